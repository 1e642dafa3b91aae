// What the lab looks like right now, from the kernel's point of view (namespaces, links,
// addresses, processes), not from what `up` meant to build.
import type { LoadedInventory } from '../inventory/load.ts'
import { linkInfo, nsExists } from './net.ts'
import { lossDropped, partitionsOf, readNetFaults, type Partition } from './nft.ts'
import { holderPid, nodeExec, powerState, sshdPid } from './node.ts'
import { isPaused } from './pause.ts'
import { labPlan, type NodePlan } from './plan.ts'
import { SVC } from './services.ts'
import { readState } from './state.ts'
import { requireLabHost } from './tools.ts'

export interface LabNodeStatus {
  name: string
  pair: string
  primary: boolean
  namespace: string
  namespacePresent: boolean
  power: 'on' | 'off'
  /** Every process SIGSTOPped (`lab fault pause`): on, answering ping, running nothing. */
  paused: boolean
  /** The node's cable at the bridge: `isolated` after `lab fault isolate`. */
  link: 'up' | 'isolated' | 'absent'
  /** The node's own interface: down after a power cut. */
  iface: 'up' | 'down' | 'absent'
  address: string
  addresses: string[]
  sshd: boolean
  services: Record<string, boolean>
}

export interface LabStatus {
  lab: string
  subnet: string
  controller: string
  controllerLink: { name: string; state: 'up' | 'down' | 'absent' }
  stateDir: string
  /** state.json exists: `up` ran and `down` has not. */
  built: boolean
  nodes: LabNodeStatus[]
  /** lab.bastions (pair and services empty). */
  bastions: LabNodeStatus[]
  floatingIps: { name?: string; pair: string; address: string; prefix: number; holders: string[] }[]
  /** Active network faults (read from the bridge's nft table) and paused nodes. */
  faults: { partitions: Partition[]; loss: { host: string; pct: number; dropped: number }[]; paused: string[] }
}

async function nodeStatus(bridgeNs: string, n: NodePlan): Promise<LabNodeStatus> {
  const present = nsExists(n.ns)
  const [port, iface] = present ? await Promise.all([linkInfo(bridgeNs, n.port), linkInfo(n.ns, n.iface)]) : [undefined, undefined]
  // nodeExec enters the holder's namespaces: without a holder there is nothing to ask.
  const holder = present && holderPid(n) !== undefined
  const running = await Promise.all(n.services.map(async (s) => holder && (await nodeExec(n, [SVC, 'status', s.name]).catch(() => ({ code: 1 }))).code === 0))
  const services = Object.fromEntries(n.services.map((s, i) => [s.name, running[i]]))
  return {
    name: n.name,
    pair: n.pair,
    primary: n.primary,
    namespace: n.ns,
    namespacePresent: present,
    power: powerState(n.ns) === 'on' ? 'on' : 'off',
    paused: holder && isPaused(n),
    link: !port?.exists ? 'absent' : port.up ? 'up' : 'isolated',
    iface: !iface?.exists ? 'absent' : iface.up ? 'up' : 'down',
    address: n.address,
    addresses: iface?.addresses ?? [],
    sshd: present && sshdPid(n) !== undefined,
    services,
  }
}

export async function labStatus(inv: LoadedInventory): Promise<LabStatus> {
  requireLabHost()
  const plan = labPlan(inv)
  const root = await linkInfo(undefined, plan.rootVeth)
  const [nodes, bastions, net] = await Promise.all([
    Promise.all(plan.nodes.map((n) => nodeStatus(plan.bridgeNs, n))),
    Promise.all(plan.bastions.map((b) => nodeStatus(plan.bridgeNs, b))),
    readNetFaults(plan),
  ])
  return {
    lab: plan.lab,
    subnet: plan.subnet,
    controller: plan.controller,
    controllerLink: { name: plan.rootVeth, state: !root.exists ? 'absent' : root.up ? 'up' : 'down' },
    stateDir: plan.stateDir,
    built: readState(plan.stateDir) !== undefined,
    nodes,
    bastions,
    floatingIps: plan.floating.map((f) => ({
      name: f.name,
      pair: f.pair,
      address: f.address,
      prefix: f.prefix,
      holders: nodes.filter((n) => n.addresses.some((a) => a.split('/')[0] === f.address)).map((n) => n.name),
    })),
    faults: {
      partitions: partitionsOf(net, net.counters),
      loss: net.loss.map((l) => ({ ...l, dropped: lossDropped(l, net.counters) })),
      paused: nodes.filter((n) => n.paused).map((n) => n.name),
    },
  }
}

const yes = (b: boolean) => (b ? 'yes' : 'no')

function faultLines(f: LabStatus['faults']): string[] {
  const net: string[] = []
  const dropped = (k: number) => ` (${k} frame${k === 1 ? '' : 's'} dropped)`
  for (const p of f.partitions) net.push(`partition ${p.a} ${p.oneWay ? '->' : '<->'} ${p.b}${dropped(p.dropped ?? 0)}`)
  for (const l of f.loss) net.push(`loss ${l.host} ${l.pct}%${dropped(l.dropped)}`)
  for (const n of f.paused) net.push(`paused ${n}`)
  return net.length ? [`faults: ${net.join('; ')}`] : []
}

export function formatLabStatus(s: LabStatus): string {
  const svcNames = [...new Set(s.nodes.flatMap((n) => Object.keys(n.services)))]
  const head = ['node', 'pair', 'namespace', 'power', 'link', 'iface', 'sshd', ...svcNames, 'address']
  const rows = s.nodes.map((n) => [
    n.name + (n.primary ? '*' : ''),
    n.pair,
    n.namespacePresent ? 'present' : 'absent',
    n.paused ? 'paused' : n.power,
    n.link,
    n.iface,
    yes(n.sshd),
    ...svcNames.map((x) => (x in n.services ? yes(n.services[x]) : '-')),
    n.address,
  ])
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(width[i]))
      .join('  ')
      .trimEnd()
  const out = [
    `lab ${s.lab}: subnet ${s.subnet}, controller ${s.controller} on ${s.controllerLink.name} (${s.controllerLink.state})${s.built ? '' : ', not built'}`,
    line(head),
    ...rows.map(line),
    ...(s.bastions ?? []).map((b) => `bastion ${b.name} ${b.address}: ${b.paused ? 'paused' : b.power}, link ${b.link}, sshd ${yes(b.sshd)}`),
    ...s.floatingIps.map(
      (f) =>
        `floating ${f.name ?? f.address} ${f.address}/${f.prefix}: ${f.holders.length ? `held by ${f.holders.join(', ')}` : 'held by nobody'}${f.holders.length > 1 ? '  (SPLIT BRAIN)' : ''}`,
    ),
    ...faultLines(s.faults),
    '(* = primary)',
  ]
  return out.join('\n')
}
