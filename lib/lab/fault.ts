// Faults a failover tool must survive: a pulled cable (isolate/heal) and a power cut
// (kill/start). Power-on brings back what a booting machine starts by itself, never the
// singletons or the floating IPs: deciding who runs those is the failover tool's job, and a
// machine that grabs them on boot is how split brain happens.
import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { HapairError, InputError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import { linkInfo, nodeIfaceDown, nodeIfaceUp, nsExists, setPort } from './net.ts'
import { holderPid, killAll, nodePaths, sshdPid, startSshd } from './node.ts'
import { labPlan, type LabPlan, type NodePlan } from './plan.ts'
import { waitReady } from './ready.ts'
import { requireLabHost } from './tools.ts'
import { bootNode, startServices } from './up.ts'

export const FAULTS = ['isolate', 'heal', 'kill', 'start'] as const
export type FaultKind = (typeof FAULTS)[number]

/** The plan and the node's part of it; InputError (exit 2) for a node the inventory lacks. */
export function resolveNode(inv: LoadedInventory, node: string): { plan: LabPlan; n: NodePlan } {
  const plan = labPlan(inv)
  const n = plan.nodes.find((x) => x.name === node)
  if (!n) throw new InputError(`${inv.file}: no node named "${node}" (nodes: ${plan.nodes.map((x) => x.name).join(', ')})`)
  return { plan, n }
}

function requireUp(plan: LabPlan, n: NodePlan): void {
  if (!nsExists(n.ns)) throw new HapairError(`lab ${plan.lab} is not up (no namespace ${n.ns}); run: lab up`)
}

/** Pid files of a dead machine are stale; a reboot would have cleared them. */
function clearPidFiles(n: NodePlan): void {
  const p = nodePaths(n)
  rmSync(p.holderPid, { force: true })
  rmSync(p.sshdPid, { force: true })
  const run = path.join(p.labDir, 'run')
  try { for (const f of readdirSync(run)) if (f.endsWith('.pid')) rmSync(path.join(run, f), { force: true }) } catch { /* none */ }
}

export async function powerOff(n: NodePlan): Promise<string> {
  const killed = await killAll(n.ns)
  await nodeIfaceDown(n)
  clearPidFiles(n)
  return `${n.name} powered off: killed ${killed} process${killed === 1 ? '' : 'es'}, ${n.iface} down without addresses`
}

export async function powerOn(plan: LabPlan, n: NodePlan): Promise<string> {
  let what: string
  if (holderPid(n)) {
    // Already on: make sure what boots by itself is there, nothing more.
    if (!sshdPid(n)) await startSshd(n, holderPid(n)!)
    const started = await startServices(n, false)
    what = `${n.name} was already on; sshd and ${started.join(', ') || 'no services'} running`
  } else {
    clearPidFiles(n)
    await nodeIfaceUp(n)
    await bootNode(n)
    const started = await startServices(n, false)
    const held = n.services.filter((s) => s.singleton).map((s) => s.name)
    what = `${n.name} powered on: sshd${started.length ? `, ${started.join(', ')}` : ''} started` +
      (held.length || plan.floating.length ? ` (not ${[...held, ...plan.floating.filter((f) => f.pair === n.pair).map((f) => f.address)].join(', ')}: the failover tool decides)` : '')
  }
  // An isolated node cannot answer the controller; waiting for it would only time out.
  if ((await linkInfo(plan.bridgeNs, n.port)).up) await waitReady([n], () => false)
  return what
}

export async function labFault(inv: LoadedInventory, kind: FaultKind, node: string): Promise<string> {
  requireLabHost()
  if (!FAULTS.includes(kind)) throw new InputError(`unknown fault "${kind}" (known: ${FAULTS.join(', ')})`)
  const { plan, n } = resolveNode(inv, node)
  requireUp(plan, n)
  switch (kind) {
    case 'isolate':
      await setPort(plan, n, false)
      return `${n.name} isolated: its cable ${n.port} is unplugged from the bridge; its processes keep running`
    case 'heal':
      await setPort(plan, n, true)
      return `${n.name} healed: ${n.port} is plugged in again`
    case 'kill':
      return powerOff(n)
    case 'start':
      return powerOn(plan, n)
  }
}

/** For the lab fencing driver: STONITH is the kill fault. */
export const labPowerOff = (inv: LoadedInventory, node: string) => labFault(inv, 'kill', node)
export const labPowerOn = (inv: LoadedInventory, node: string) => labFault(inv, 'start', node)

export function labPowerState(inv: LoadedInventory, node: string): 'on' | 'off' {
  requireLabHost()
  const { n } = resolveNode(inv, node)
  return holderPid(n) ? 'on' : 'off'
}
