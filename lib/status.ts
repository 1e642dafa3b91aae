// The pair as it is now: every value probed from the nodes, nothing remembered locally.
import type { LoadedInventory } from './inventory/load.ts'
import type { Pair } from './inventory/schema.ts'
import { HapairError, RemoteError, withHint } from './errors.ts'
import type { SshPool } from './ssh.ts'
import type { NodeState } from './state.ts'
import { observe, runningOn, type Observation } from './observe.ts'
import { behind } from './freshness.ts'
import { lockState } from './lock.ts'
import { runServiceChecks } from './checks/service-probe.ts'

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
  floatingIps: { address: string; name?: string; driver: string; holders: string[]; unknown: string[]; error?: string }[]
  lastSync?: string
  lastVerify?: { at: string; ok: boolean }
  ms: number
}

/** Oldest of the newest sync times across items and targets: how far behind the most-behind copy may be. */
function oldestSync(st: NodeState | undefined): string | undefined {
  const times: string[] = []
  for (const perTarget of Object.values(st?.sync?.items ?? {})) times.push(...Object.values(perTarget))
  return times.sort()[0]
}

/**
 * Healthy means observed, not recorded: every node reachable, records believable and agreeing
 * with what runs, every address on the active node alone, every service of the active node
 * running and answering, every singleton on exactly the active node, no node behind.
 */
export async function pairStatus(inv: LoadedInventory, pair: Pair, pool: SshPool): Promise<PairStatus> {
  const started = Date.now()
  const obs = await observe(inv, pool, pair)
  const view = obs.view
  const active = view.active
  const reasons: string[] = []
  const nodes: NodeStatus[] = pair.nodes.map((n) => ({
    name: n.name, address: n.address, role: n.name === pair.primary ? 'primary' as const : 'secondary' as const,
    reachable: !(n.name in view.unreachable), ...(n.name in view.unreachable ? { error: view.unreachable[n.name] } : {}),
    epoch: view.states[n.name]?.active?.epoch, services: obs.services[n.name] ?? {}, ms: 0,
  }))
  for (const n of nodes) if (!n.reachable) reasons.push(`${n.name} unreachable: ${view.errors?.[n.name] ? withHint(view.errors[n.name]) : n.error}`)
  for (const p of obs.problems) reasons.push(p.detail)
  const [lockInfo, answers, lacks] = await Promise.all([
    readLocks(pool, pair, nodes.filter((n) => n.reachable).map((n) => n.name)),
    activeAnswers(pool, pair, obs),
    active in view.unreachable ? Promise.resolve({}) : behind(pool, pair, active, pair.nodes.map((n) => n.name).filter((n) => n !== active && !(n in view.unreachable))).catch((e) => {
      if (e instanceof HapairError) return { '*': [{ item: '*', why: e.message }] }
      throw e
    }),
  ])
  reasons.push(...lockInfo)
  // Sync writes the degraded mark and sync times on the active node; copies left on a former
  // active node are history and must not count.
  const activeState = view.states[active]
  const mark = activeState?.degraded
  if (mark) reasons.push(`sync pending since ${mark.since}: ${mark.reason}`)
  for (const [node, items] of Object.entries(lacks as Record<string, { item: string; why: string }[]>)) {
    if (items.length) reasons.push(`${node} is behind ${active}: ${items.map((i) => `${i.item} (${i.why})`).join('; ')}`)
  }
  const fips = obs.ips.map((i) => ({ address: i.fip.address, name: i.fip.name, driver: i.fip.driver, holders: i.holders, unknown: i.unknown, ...(i.error ? { error: i.error } : {}) }))
  for (const f of obs.ips) {
    const unknownReachable = f.unknown.filter((n) => !(n in view.unreachable))
    if (f.error) reasons.push(`${f.fip.address}: cannot observe who holds it (${f.fip.driver}): ${f.error}`)
    else if (unknownReachable.length) reasons.push(`${f.fip.address}: unknown on ${unknownReachable.join(', ')}`)
    if (f.holders.length > 1) reasons.push(`${f.fip.address} held by ${f.holders.length} nodes (${f.holders.join(', ')})`)
    else if (f.holders.length === 0 && !f.error) reasons.push(`${f.fip.address} held by no node`)
    else if (f.holders.length === 1 && f.holders[0] !== active) reasons.push(`${f.fip.address} on ${f.holders[0]}, but the active node is ${active}`)
  }
  for (const svc of pair.services ?? []) {
    const running = runningOn(obs, svc.name)
    if (obs.services[active]?.[svc.name] === false) reasons.push(`${svc.name} is down on the active node ${active}`)
    if (svc.singleton && running.length > 1) reasons.push(`singleton ${svc.name} runs on ${running.join(' and ')}: two live writers`)
    else if (svc.singleton && running.length === 1 && running[0] !== active) reasons.push(`singleton ${svc.name} runs on ${running[0]}, not on the active node ${active}`)
  }
  reasons.push(...answers)
  const verify = Object.values(view.states).map((st) => st.verify).filter(Boolean).sort((a, b) => b!.at.localeCompare(a!.at))[0]
  return {
    name: pair.name,
    active,
    activeSource: view.source,
    epoch: view.epoch,
    degraded: reasons.length > 0,
    degradedReasons: [...new Set(reasons)],
    nodes,
    floatingIps: fips,
    lastSync: oldestSync(activeState),
    lastVerify: verify ? { at: verify.at, ok: verify.ok } : undefined,
    ms: Date.now() - started,
  }
}

/** Every check of every service the active node runs, through the floating IPs (or its own address). */
async function activeAnswers(pool: SshPool, pair: Pair, obs: Observation): Promise<string[]> {
  const active = obs.view.active
  if (active in obs.view.unreachable) return []
  const node = pair.nodes.find((n) => n.name === active)!
  const addresses = obs.ips.length ? obs.ips.filter((i) => i.holders.includes(active)).map((i) => i.fip.address) : [node.address]
  if (!addresses.length) return []
  const up = (pair.services ?? []).filter((s) => obs.services[active]?.[s.name]).map((s) => s.name)
  const r = await runServiceChecks(pool, pair, { node, addresses, services: up })
  return r.failures.map((f) => `active ${active} does not answer: ${f}`)
}

/** An operation lock or an unfinished journal on any node: a failover is running or was interrupted. */
async function readLocks(pool: SshPool, pair: Pair, names: string[]): Promise<string[]> {
  const out = await Promise.all(names.map((n) => lockState(pool.session(pair, n), pair).catch((e) => {
    if (e instanceof RemoteError) return undefined
    throw e
  })))
  return [...new Set(out.filter((x): x is string => !!x))]
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
