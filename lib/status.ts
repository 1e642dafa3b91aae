// The pair as it is now: every value probed from the nodes, nothing remembered locally.
import type { LoadedInventory } from './inventory/load.ts'
import type { Pair } from './inventory/schema.ts'
import { ipDriver } from './drivers/index.ts'
import { RemoteError } from './errors.ts'
import type { SshPool } from './ssh.ts'
import type { NodeState } from './state.ts'
import { activeView, type ActiveView } from './active.ts'
import { runningServices } from './services.ts'

export interface NodeStatus {
  name: string
  address: string
  role: 'primary' | 'secondary'
  reachable: boolean
  error?: string
  epoch?: number
  services: Record<string, boolean | null>
  ms: number
}

export interface PairStatus {
  name: string
  active: string
  activeSource: 'epoch' | 'inventory'
  epoch: number
  degraded: boolean
  degradedReasons: string[]
  nodes: NodeStatus[]
  floatingIps: { address: string; name?: string; driver: string; holders: string[]; unknown: string[] }[]
  lastSync?: string
  lastVerify?: { at: string; ok: boolean }
  ms: number
}

/** Services and reachability of one node; its state files come from activeView. */
async function probeNode(pool: SshPool, pair: Pair, view: ActiveView, name: string): Promise<{ status: NodeStatus; state?: NodeState & { corrupt: string[] } }> {
  const node = pair.nodes.find((n) => n.name === name)!
  const started = Date.now()
  const base = { name, address: node.address, role: name === pair.primary ? 'primary' as const : 'secondary' as const }
  const down = (error: string) => ({ status: { ...base, reachable: false, error, services: Object.fromEntries((pair.services ?? []).map((svc) => [svc.name, null])), ms: Date.now() - started } })
  if (view.unreachable[name]) return down(view.unreachable[name])
  try {
    const services = await runningServices(pool.session(pair, node), pair)
    const state = view.states[name]
    return { status: { ...base, reachable: true, epoch: state?.active?.epoch, services, ms: Date.now() - started }, state }
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e
    return down(e.message)
  }
}

/** Oldest of the newest sync times across items and targets: how far behind the most-behind copy may be. */
function oldestSync(states: (NodeState | undefined)[]): string | undefined {
  const times: string[] = []
  for (const st of states) for (const perTarget of Object.values(st?.sync?.items ?? {})) times.push(...Object.values(perTarget))
  return times.sort()[0]
}

export async function pairStatus(inv: LoadedInventory, pair: Pair, pool: SshPool): Promise<PairStatus> {
  const started = Date.now()
  const view = await activeView(pool, pair)
  const probes = await Promise.all(pair.nodes.map((n) => probeNode(pool, pair, view, n.name)))
  const fips = await Promise.all((pair.floatingIps ?? []).map(async (fip) => {
    const st = await ipDriver(fip, { inv, pair, pool }).status()
    const holders = Object.entries(st).filter(([, v]) => v === 'held').map(([k]) => k)
    const unknown = Object.entries(st).filter(([, v]) => v === 'unknown').map(([k]) => k)
    return { address: fip.address, name: fip.name, driver: fip.driver, holders, unknown }
  }))
  const record = view.record
  const active = view.active
  const reasons: string[] = []
  for (const p of probes) if (!p.status.reachable) reasons.push(`${p.status.name} unreachable`)
  // Sync writes the degraded mark and sync times on the active node; copies left on a former
  // active node are history and must not count.
  const activeState = probes.find((p) => p.status.name === active)?.state
  const degradedMark = activeState?.degraded
  if (degradedMark) reasons.push(`sync pending since ${degradedMark.since}: ${degradedMark.reason}`)
  for (const f of fips) {
    if (f.holders.length > 1) reasons.push(`${f.address} held by ${f.holders.length} nodes (${f.holders.join(', ')})`)
    else if (f.holders.length === 0 && f.unknown.length === 0) reasons.push(`${f.address} held by no node`)
    else if (f.holders.length === 1 && f.holders[0] !== active) reasons.push(`${f.address} on ${f.holders[0]}, but the active node is ${active}`)
  }
  for (const svc of pair.services ?? []) {
    if (!svc.singleton) continue
    const running = probes.filter((p) => p.status.services[svc.name] === true).map((p) => p.status.name)
    if (running.length > 1) reasons.push(`singleton ${svc.name} runs on ${running.join(' and ')}: two live writers`)
  }
  for (const p of probes) for (const c of p.state?.corrupt ?? []) reasons.push(`${p.status.name}: state file ${c} is corrupt`)
  const verify = probes.map((p) => p.state?.verify).filter(Boolean).sort((a, b) => b!.at.localeCompare(a!.at))[0]
  return {
    name: pair.name,
    active,
    activeSource: record ? 'epoch' : 'inventory',
    epoch: record?.epoch ?? 0,
    degraded: reasons.length > 0,
    degradedReasons: reasons,
    nodes: probes.map((p) => p.status),
    floatingIps: fips,
    lastSync: oldestSync([activeState]),
    lastVerify: verify ? { at: verify.at, ok: verify.ok } : undefined,
    ms: Date.now() - started,
  }
}

/** Text for a person: one block per pair. Pure, so it is tested on its own. */
export function formatStatus(pairs: PairStatus[]): string {
  const lines: string[] = []
  for (const p of pairs) {
    lines.push(`pair ${p.name}: active ${p.active} (epoch ${p.epoch}${p.activeSource === 'inventory' ? ', from inventory: no failover recorded' : ''})${p.degraded ? '  DEGRADED' : '  healthy'}`)
    for (const n of p.nodes) {
      const svc = Object.entries(n.services).map(([k, v]) => `${k}:${v === null ? '?' : v ? 'up' : 'down'}`).join(' ')
      const mark = n.name === p.active ? '*' : ' '
      lines.push(`  ${mark} ${n.name.padEnd(12)} ${n.address.padEnd(16)} ${n.role.padEnd(9)} ${n.reachable ? 'reachable  ' : 'UNREACHABLE'} ${svc}`)
    }
    for (const f of p.floatingIps) {
      lines.push(`    floating ${f.address} (${f.driver}) on ${f.holders.length ? f.holders.join(', ') : 'no node'}${f.unknown.length ? ` (unknown: ${f.unknown.join(', ')})` : ''}`)
    }
    for (const r of p.degradedReasons) lines.push(`    ! ${r}`)
    if (p.lastSync) lines.push(`    oldest sync ${p.lastSync}`)
    if (p.lastVerify) lines.push(`    last verify ${p.lastVerify.at} ${p.lastVerify.ok ? 'ok' : 'FAILED'}`)
  }
  return lines.join('\n')
}
