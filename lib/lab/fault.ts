// Faults a failover tool must survive: a pulled cable (isolate/heal), a power cut
// (kill/start), a hung machine (pause/resume, lib/lab/pause.ts), and a network that drops
// traffic between two hosts or at random (partition/loss, lib/lab/nft.ts). Power-on brings back what a booting machine starts by itself, never the
// singletons or the floating IPs: deciding who runs those is the failover tool's job, and a
// machine that grabs them on boot is how split brain happens.
import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { HapairError, InputError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import { linkInfo, nodeIfaceDown, nodeIfaceUp, nsExists, setPort } from './net.ts'
import { CONTROLLER, describeNetFaults, hasNetFaults, hostPort, noNetFaults, readNetFaults, withLoss, withPartition, writeNetFaults } from './nft.ts'
import { holderPid, killAll, nodePaths, powerState, sshdPid, startSshd } from './node.ts'
import { hasStopped, isPaused, pauseNode, resumeNode } from './pause.ts'
import { labPlan, type LabPlan, type NodePlan } from './plan.ts'
import { tcpOpen, waitFor, waitReady } from './ready.ts'
import { requireLabHost } from './tools.ts'
import { bootNode, startLabServices } from './up.ts'
import { startLabGuard } from './guard.ts'

export const FAULTS = ['isolate', 'heal', 'kill', 'start', 'pause', 'resume'] as const
export type FaultKind = (typeof FAULTS)[number]

/** The plan and the node's (or lab bastion's) part of it; InputError (exit 2) for a host the inventory lacks. */
export function resolveNode(inv: LoadedInventory, node: string): { plan: LabPlan; n: NodePlan } {
  const plan = labPlan(inv)
  const n = plan.nodes.find((x) => x.name === node) ?? plan.bastions.find((x) => x.name === node)
  if (!n)
    throw new InputError(
      `${inv.file}: no node named "${node}" (nodes: ${plan.nodes.map((x) => x.name).join(', ')}${plan.bastions.length ? `; bastions: ${plan.bastions.map((x) => x.name).join(', ')}` : ''})`,
    )
  return { plan, n }
}

function requireUp(plan: LabPlan, n?: NodePlan): void {
  const ns = n?.ns ?? plan.bridgeNs
  if (!nsExists(ns)) throw new HapairError(`lab ${plan.lab} is not up (no namespace ${ns}); run: lab up`)
}

/** Pid files of a dead machine are stale; a reboot would have cleared them. */
function clearPidFiles(n: NodePlan): void {
  const p = nodePaths(n)
  rmSync(p.holderPid, { force: true })
  rmSync(p.sshdPid, { force: true })
  const run = path.join(p.labDir, 'run')
  try {
    for (const f of readdirSync(run)) if (f.endsWith('.pid')) rmSync(path.join(run, f), { force: true })
  } catch {
    /* none */
  }
}

export async function powerOff(n: NodePlan): Promise<string> {
  const killed = await killAll(n.ns)
  await nodeIfaceDown(n)
  clearPidFiles(n)
  return `${n.name} powered off: killed ${killed} process${killed === 1 ? '' : 'es'}, ${n.iface} down without addresses`
}

export async function powerOn(plan: LabPlan, n: NodePlan): Promise<string> {
  let what: string
  // A hung machine is on: power-on has nothing to do, and waiting for it to answer would only time out.
  if (isPaused(n)) return `${n.name} is on but paused (hung); lab fault resume ${n.name} lets it run, lab fault kill ${n.name} powers it off`
  if (holderPid(n)) {
    // Already on: make sure what boots by itself is there, nothing more.
    if (!sshdPid(n)) await startSshd(n, holderPid(n)!)
    const started = [...(await startLabServices(n, false)), ...(await startLabGuard(plan, n)).map((p) => `guard ${p}`)]
    what = `${n.name} was already on; sshd and ${started.join(', ') || 'no services'} running`
  } else {
    clearPidFiles(n)
    await nodeIfaceUp(n)
    await bootNode(n)
    const started = [...(await startLabServices(n, false)), ...(await startLabGuard(plan, n)).map((p) => `guard ${p}`)]
    const held = [...n.services.filter((s) => s.singleton).map((s) => s.name), ...plan.floating.filter((f) => f.pair === n.pair).map((f) => f.address)]
    what =
      `${n.name} powered on: sshd${started.length ? `, ${started.join(', ')}` : ''} started` +
      (held.length ? ` (not ${held.join(', ')}: the failover tool decides)` : '')
  }
  // An isolated node, or one partitioned from the controller (nodes behind a bastion), cannot
  // answer the controller; waiting for it would only time out.
  const cut = (await readNetFaults(plan)).drops.some((d) => (d.from === CONTROLLER && d.to === n.name) || (d.from === n.name && d.to === CONTROLLER))
  if ((await linkInfo(plan.bridgeNs, n.port)).up && !cut) await waitReady([n], () => false)
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
    case 'heal': {
      await setPort(plan, n, true)
      // Healed means answering again, as after power-on: a caller's next SSH command must not race
      // the link. A node that is off, hung or still cut off by a partition is not waited for long.
      const answering =
        !sshdPid(n) ||
        isPaused(n) ||
        (await waitFor(`${n.name} sshd`, () => tcpOpen(n.address, n.sshPort, 500), 5000).then(
          () => true,
          () => false,
        ))
      return `${n.name} healed: ${n.port} is plugged in again${answering ? '' : ` (sshd ${n.address}:${n.sshPort} does not answer yet)`}`
    }
    case 'kill':
      return powerOff(n)
    case 'start':
      return powerOn(plan, n)
    case 'pause': {
      const k = await pauseNode(n)
      return `${n.name} paused: ${k} process${k === 1 ? '' : 'es'} stopped (SIGSTOP); its kernel still answers ping and keeps its addresses`
    }
    case 'resume': {
      const k = resumeNode(n)
      return k ? `${n.name} resumed: ${k} process${k === 1 ? '' : 'es'} continued (SIGCONT)` : `${n.name} was not paused`
    }
  }
}

/** Drops every frame between hosts a and b (node names or "controller"); oneWay: only a -> b. */
export async function labPartition(inv: LoadedInventory, a: string, b: string, opts: { oneWay?: boolean } = {}): Promise<string> {
  requireLabHost()
  const plan = labPlan(inv)
  hostPort(plan, a)
  hostPort(plan, b)
  requireUp(plan)
  const now = await readNetFaults(plan)
  await writeNetFaults(plan, withPartition(now, a, b, opts.oneWay ?? false), now.counters)
  return opts.oneWay
    ? `partition ${a} -> ${b}: ${a}'s frames to ${b} are dropped at the bridge; ${b} still reaches ${a}`
    : `partition ${a} <-> ${b}: every frame between them is dropped at the bridge (ARP too)`
}

/** Drops pct% (whole number 0..100) of the frames into and, separately, out of the host's port; 0 removes it. */
export async function labLoss(inv: LoadedInventory, host: string, pct: number): Promise<string> {
  requireLabHost()
  const plan = labPlan(inv)
  hostPort(plan, host)
  if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new InputError(`loss percent must be a whole number 0..100 (got ${pct})`)
  requireUp(plan)
  const now = await readNetFaults(plan)
  await writeNetFaults(plan, withLoss(now, host, pct), now.counters)
  return pct ? `loss ${host} ${pct}%: each frame into and out of ${host}'s link is dropped with probability ${pct}%` : `loss ${host}: removed`
}

export const labPause = (inv: LoadedInventory, node: string) => labFault(inv, 'pause', node)
export const labResume = (inv: LoadedInventory, node: string) => labFault(inv, 'resume', node)

/** Clears every fault of the lab but power: the nft table, paused nodes, unplugged cables. */
export async function labHealAll(inv: LoadedInventory): Promise<string> {
  requireLabHost()
  const plan = labPlan(inv)
  requireUp(plan)
  const done: string[] = []
  const net = await readNetFaults(plan)
  if (hasNetFaults(net)) {
    await writeNetFaults(plan, noNetFaults())
    done.push(...describeNetFaults(net).map((d) => `removed ${d}`))
  }
  for (const n of [...plan.nodes, ...plan.bastions]) {
    if (!nsExists(n.ns)) continue
    if (hasStopped(n)) {
      resumeNode(n)
      done.push(`resumed ${n.name}`)
    }
    const port = await linkInfo(plan.bridgeNs, n.port)
    if (port.exists && !port.up) {
      await setPort(plan, n, true)
      done.push(`replugged ${n.name}`)
    }
  }
  return done.length ? `lab ${plan.lab} healed: ${done.join(', ')}` : `lab ${plan.lab}: no faults to heal (powered-off nodes stay off: lab fault start NODE)`
}

/** Power as the lab fencing driver (lib/drivers/fence-lab.ts) switches it: STONITH is the kill fault. */
export const labPowerOff = (inv: LoadedInventory, node: string) => labFault(inv, 'kill', node)
export const labPowerOn = (inv: LoadedInventory, node: string) => labFault(inv, 'start', node)

/** powerState (lib/lab/node.ts) by node name; a lab that is down reads as off. */
export function labPowerState(inv: LoadedInventory, node: string): 'on' | 'off' {
  requireLabHost()
  const { n } = resolveNode(inv, node)
  return powerState(n.ns) === 'on' ? 'on' : 'off'
}
