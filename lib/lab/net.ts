// Namespaces, the bridge and the cables. The root namespace gets exactly one thing: the
// controller's veth, and only after proving the lab subnet collides with nothing there.
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { HapairError, RefusedError } from '../errors.ts'
import { BRIDGE, cidrOverlap, type LabPlan, type NodePlan } from './plan.ts'
import { must, run } from './proc.ts'

export const ip = (args: string[]) => must('ip', args)

export function listNamespaces(): string[] {
  try {
    return readdirSync('/run/netns').sort()
  } catch {
    return []
  }
}
export const nsExists = (ns: string) => existsSync(`/run/netns/${ns}`)

interface IpRoute {
  dst: string
  dev?: string
  table?: string
  type?: string
}
interface IpAddr {
  ifname: string
  flags?: string[]
  operstate?: string
  addr_info?: { family: string; local: string; prefixlen: number }[]
}

/** Everything in the root namespace (routes in any table, addresses) that overlaps `subnet`. */
export async function overlapping(subnet: string): Promise<string[]> {
  const routes = JSON.parse((await ip(['-j', '-4', 'route', 'show', 'table', 'all'])) || '[]') as IpRoute[]
  const addrs = JSON.parse((await ip(['-j', '-4', 'addr', 'show'])) || '[]') as IpAddr[]
  const out: string[] = []
  // The default route covers everything by definition; it is the way out, not a collision.
  for (const r of routes) {
    if (r.dst === 'default' || !/^[\d.]+(\/\d+)?$/.test(r.dst)) continue
    if (cidrOverlap(r.dst, subnet))
      out.push(`route ${r.type && r.type !== 'unicast' ? r.type + ' ' : ''}${r.dst}${r.dev ? ` dev ${r.dev}` : ''}${r.table ? ` table ${r.table}` : ''}`)
  }
  for (const l of addrs)
    for (const a of l.addr_info ?? []) {
      if (a.family === 'inet' && cidrOverlap(`${a.local}/${a.prefixlen}`, subnet)) out.push(`address ${a.local}/${a.prefixlen} on ${l.ifname}`)
    }
  return [...new Set(out)]
}

export async function refuseOverlap(plan: LabPlan): Promise<void> {
  const hits = await overlapping(plan.subnet)
  if (hits.length) {
    throw new RefusedError(
      `lab ${plan.lab}: subnet ${plan.subnet} overlaps what this machine already has (${hits.join('; ')}); pick another lab.subnet or take the other lab down`,
    )
  }
}

/** The lab speaks IPv4 only; no link-local chatter and no addresses outside the lab subnet. */
async function noIpv6(ns: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
}

async function addNamespace(ns: string): Promise<void> {
  await ip(['netns', 'add', ns])
  await noIpv6(ns)
  await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
}

export async function createBridge(plan: LabPlan): Promise<void> {
  await addNamespace(plan.bridgeNs)
  // STP off and no forwarding delay: a port is usable the moment it comes up.
  await ip(['-n', plan.bridgeNs, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
  await ip(['-n', plan.bridgeNs, 'link', 'set', BRIDGE, 'up'])
}

/** The node's namespace and its cable to the bridge; its end is created there directly, never in the root namespace. */
export async function createNodeNet(plan: LabPlan, n: NodePlan): Promise<void> {
  await addNamespace(n.ns)
  await ip(['-n', plan.bridgeNs, 'link', 'add', n.port, 'type', 'veth', 'peer', 'name', n.iface, 'netns', n.ns])
  await ip(['-n', plan.bridgeNs, 'link', 'set', n.port, 'master', BRIDGE, 'up'])
  await nodeIfaceUp(n)
}

export async function nodeIfaceUp(n: NodePlan): Promise<void> {
  await ip(['-n', n.ns, 'addr', 'replace', `${n.address}/${n.prefix}`, 'dev', n.iface])
  if (n.privateAddress) await ip(['-n', n.ns, 'addr', 'replace', `${n.privateAddress}/${n.prefix}`, 'dev', n.iface])
  await ip(['-n', n.ns, 'link', 'set', n.iface, 'up'])
}

/** A powered-off machine holds no address at all, floating or its own. */
export async function nodeIfaceDown(n: NodePlan): Promise<void> {
  // One ip process for both: power-off is on a takeover's critical path.
  await must('ip', ['-n', n.ns, '-batch', '-'], { input: `addr flush dev ${n.iface}\nlink set ${n.iface} down\n` })
}

export async function createControllerLink(plan: LabPlan): Promise<void> {
  await ip(['link', 'add', plan.rootVeth, 'type', 'veth', 'peer', 'name', plan.bridgePeer, 'netns', plan.bridgeNs])
  // Before the link comes up, so the kernel never assigns it an fe80:: address.
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${plan.rootVeth}/disable_ipv6`, '1')
  } catch {
    /* no IPv6 in this kernel */
  }
  await ip(['addr', 'add', `${plan.controller}/${plan.prefix}`, 'dev', plan.rootVeth])
  await ip(['link', 'set', plan.rootVeth, 'up'])
  await ip(['-n', plan.bridgeNs, 'link', 'set', plan.bridgePeer, 'master', BRIDGE, 'up'])
}

/** isolate/heal: the node keeps running, only its cable is pulled. */
export const setPort = (plan: LabPlan, n: NodePlan, up: boolean) => ip(['-n', plan.bridgeNs, 'link', 'set', n.port, up ? 'up' : 'down'])

export interface LinkInfo {
  exists: boolean
  up: boolean
  carrier: boolean
  addresses: string[]
}

export async function linkInfo(ns: string | undefined, dev: string): Promise<LinkInfo> {
  const args = [...(ns ? ['-n', ns] : []), '-j', 'addr', 'show', 'dev', dev]
  const r = await run('ip', args)
  if (r.code !== 0) return { exists: false, up: false, carrier: false, addresses: [] }
  const l = (JSON.parse(r.stdout || '[]') as IpAddr[])[0]
  if (!l) return { exists: false, up: false, carrier: false, addresses: [] }
  const flags = l.flags ?? []
  return {
    exists: true,
    up: flags.includes('UP'),
    carrier: flags.includes('LOWER_UP'),
    addresses: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  }
}

export async function addFloating(ns: string, iface: string, address: string, prefix: number): Promise<void> {
  await ip(['-n', ns, 'addr', 'replace', `${address}/${prefix}`, 'dev', iface])
  // arping exits 1 when nobody answers, which an unsolicited announcement never gets; -w
  // bounds the wait so `up` does not idle a second per address.
  const r = await run('ip', ['netns', 'exec', ns, 'arping', '-U', '-c', '1', '-w', '0.05', '-I', iface, address])
  if (!/1 packets transmitted/.test(r.stdout)) {
    throw new HapairError(`arping -U ${address} on ${iface} in ${ns} sent nothing: ${(r.stderr || r.stdout).trim()}`)
  }
}

export async function deleteLink(dev: string): Promise<boolean> {
  return (await run('ip', ['link', 'del', dev])).code === 0
}

export async function deleteNamespace(ns: string): Promise<boolean> {
  return (await run('ip', ['netns', 'del', ns])).code === 0
}
