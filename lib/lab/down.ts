// Removing a lab: what state.json recorded, what the current inventory would have built, and
// leftover hp-<lab>-* namespaces (a crashed `up`). Only our own processes die: those inside our
// namespaces, by pid.
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { LoadedInventory } from '../inventory/load.ts'
import { isLabNamespace, labPlan, type LabPlan } from './plan.ts'
import { deleteLink, deleteNamespace, listNamespaces, nsExists } from './net.ts'
import { killAll } from './node.ts'
import { run } from './proc.ts'
import { readState, stateFile, type LabState } from './state.ts'

/** state.json files under <inventory dir>/.lab/ made from this inventory file (finds a renamed lab too). */
function statesOf(inv: LoadedInventory, plan: LabPlan): LabState[] {
  const out: LabState[] = []
  const own = readState(plan.stateDir)
  if (own) out.push(own)
  const labRoot = path.join(inv.dir, '.lab')
  let dirs: string[] = []
  try {
    dirs = readdirSync(labRoot)
  } catch {
    /* no labs */
  }
  for (const d of dirs) {
    const dir = path.join(labRoot, d)
    if (dir === plan.stateDir || !existsSync(stateFile(dir))) continue
    const s = readState(dir)
    if (s && s.inventory === inv.file) out.push(s)
  }
  return out
}

/** Removes everything of this inventory's lab; returns one line per thing removed. */
export async function teardown(inv: LoadedInventory, plan: LabPlan = labPlan(inv)): Promise<string[]> {
  const states = statesOf(inv, plan)
  const labs = new Set([plan.lab, ...states.map((s) => s.lab)])
  const all = listNamespaces()
  const names = new Set<string>([plan.bridgeNs, ...plan.nodes.map((n) => n.ns), ...plan.bastions.map((n) => n.ns), ...states.flatMap((s) => s.namespaces)])
  for (const lab of labs) for (const ns of all) if (isLabNamespace(lab, ns, all)) names.add(ns)
  const present = [...names].filter(nsExists)
  const removed: string[] = []

  const killed = await Promise.all(present.map(async (ns) => [ns, await killAll(ns)] as const))
  for (const [ns, k] of killed) if (k) removed.push(`killed ${k} process${k > 1 ? 'es' : ''} in ${ns}`)
  // The root end first: it is the one thing outside our namespaces.
  for (const veth of new Set([plan.rootVeth, ...states.map((s) => s.rootVeth)])) {
    if (await deleteLink(veth)) removed.push(`deleted link ${veth}`)
  }
  for (const ns of present) if (await deleteNamespace(ns)) removed.push(`deleted namespace ${ns}`)

  for (const dir of new Set([plan.stateDir, ...states.map((s) => s.stateDir)])) {
    if (!existsSync(dir)) continue
    rmSync(dir, { recursive: true, force: true })
    removed.push(`removed ${dir}`)
    try {
      rmdirSync(path.dirname(dir))
    } catch {
      /* other labs still there */
    }
  }
  if (states.some((s) => s.createdRunNetns) && listNamespaces().length === 0) {
    // We made /run/netns (ip netns add bind-mounts it onto itself); umount without -l fails
    // while anyone else's namespace is mounted there, so this never pulls one from under them.
    if ((await run('umount', ['-n', '/run/netns'])).code === 0) {
      try {
        rmdirSync('/run/netns')
        removed.push('removed /run/netns')
      } catch {
        /* recreated meanwhile */
      }
    }
  }
  return removed
}
