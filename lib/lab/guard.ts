// The lease guard in the lab: for every pair fenced by lease, `lab up` installs and starts the guard
// on each of its nodes straight through the node's namespaces (as services.ts installs the lab's
// services), so a test needs no extra step. Like a systemd unit that is enabled, the node keeps a
// note of its guards (/var/lib/lab/guards/PAIR holds the state dir), and power-on starts them again.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { LoadedInventory } from '../inventory/load.ts'
import { installGuard, startScript } from '../guard/install.ts'
import type { GuardRunner } from '../guard/runner.ts'
import { stateDir } from '../inventory/load.ts'
import { HapairError } from '../errors.ts'
import { nodeExec, nodePaths } from './node.ts'
import type { LabPlan, NodePlan } from './plan.ts'

const guardsDir = (n: NodePlan) => path.join(nodePaths(n).labDir, 'guards')

/** Into the node's network, mount and UTS namespaces; the lab's nodes never run systemd. */
export function nodeRunner(n: NodePlan): GuardRunner {
  return (script, input) => nodeExec(n, ['sh', '-c', script], { input, timeoutMs: 20_000 })
}

const leasePairs = (inv: LoadedInventory) => inv.data.pairs.filter((p) => p.fencing?.driver === 'lease')

/** Installs and starts the guard on every node of every lease-fenced pair; one line for `lab up`. */
export async function installLabGuards(inv: LoadedInventory, plan: LabPlan): Promise<string> {
  const done: string[] = []
  for (const pair of leasePairs(inv)) {
    await Promise.all(
      pair.nodes.map(async (node) => {
        const n = plan.nodes.find((x) => x.name === node.name && x.pair === pair.name)!
        const r = await installGuard(nodeRunner(n), pair, node, { systemd: false })
        mkdirSync(guardsDir(n), { recursive: true })
        writeFileSync(path.join(guardsDir(n), pair.name), `${stateDir(pair)}\n`)
        done.push(`${node.name} (pid ${r.pid})`)
      }),
    )
  }
  return done.length ? `lease guard on ${done.sort().join(', ')}` : 'no pair fenced by lease'
}

/**
 * Starts the guards `lab up` installed on this node, for power-on (one already running is left
 * alone). Returns the pairs whose guard runs now.
 */
export async function startLabGuard(plan: LabPlan, n: NodePlan): Promise<string[]> {
  let names: string[] = []
  try {
    names = readdirSync(guardsDir(n))
  } catch {
    return []
  }
  const started: string[] = []
  for (const name of names.sort()) {
    const dir = readFileSync(path.join(guardsDir(n), name), 'utf8').trim()
    const r = await nodeRunner(n)(startScript({ name, stateDir: dir }, { systemd: false, restart: false }))
    if (r.code !== 0) throw new HapairError(`${n.name}: the lease guard of pair ${name} did not start (lab ${plan.lab}): ${(r.stderr || r.stdout).trim()}`)
    started.push(name)
  }
  return started
}
