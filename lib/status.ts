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
import { describeInflight, readAllInflight } from './sync/follow/inflight.ts'
import { judgeLag, judgeOnePrimary, type PgProbes } from './checks/postgres.ts'
import { pgService, pgSettings } from './postgres/config.ts'
import { sessionExec } from './postgres/exec.ts'
import { lagBytes } from './postgres/lsn.ts'
import { probePg, type PgState } from './postgres/state.ts'

/** A node's PostgreSQL, for a pair with a postgresql service. */
export interface PgNodeStatus {
  role: PgState['role']
  timeline?: number
  /** primary: "streaming to node-b (sync)"; standby: its WAL receiver's status and sender; else why not known. */
  replication: string
  /** Standby: bytes its replay is behind the primary's flushed WAL. */
  lagBytes?: number
  replayPaused?: boolean
}

export interface NodeStatus {
  name: string
  address: string
  role: 'primary' | 'secondary'
  reachable: boolean
  /** Reached, but sudo (ssh.become) will not run hapair's commands as root: as unobservable as an unreachable node, for another reason. */
  sudoRefused?: boolean
  error?: string
  epoch?: number
  services: Record<string, boolean | null>
  postgres?: PgNodeStatus
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
  /** The follower's in-flight lists (sync --follow): what each node lacks of the active node's changes, or lacked at a takeover. */
  inflight?: string[]
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
    name: n.name,
    address: n.address,
    role: n.name === pair.primary ? ('primary' as const) : ('secondary' as const),
    reachable: !(n.name in view.unreachable),
    ...(n.name in view.unreachable ? { error: view.unreachable[n.name] } : {}),
    ...(view.errors?.[n.name]?.becomeFailed ? { sudoRefused: true } : {}),
    epoch: view.states[n.name]?.active?.epoch,
    services: obs.services[n.name] ?? {},
    ms: 0,
  }))
  for (const n of nodes)
    if (!n.reachable)
      reasons.push(`${n.name} ${n.sudoRefused ? 'refuses sudo' : 'unreachable'}: ${view.errors?.[n.name] ? withHint(view.errors[n.name]) : n.error}`)
  for (const p of obs.problems) reasons.push(p.detail)
  const [lockInfo, answers, lacks, inflight, pgProbes] = await Promise.all([
    readLocks(
      pool,
      pair,
      nodes.filter((n) => n.reachable).map((n) => n.name),
    ),
    activeAnswers(pool, pair, obs),
    active in view.unreachable
      ? Promise.resolve({})
      : behind(
          pool,
          pair,
          active,
          pair.nodes.map((n) => n.name).filter((n) => n !== active && !(n in view.unreachable)),
        ).catch((e) => {
          if (e instanceof HapairError) return { '*': [{ item: '*', why: e.message }] }
          throw e
        }),
    readAllInflight(
      pool,
      pair,
      nodes.filter((n) => n.reachable).map((n) => n.name),
    ),
    probePgNodes(
      pool,
      pair,
      nodes.filter((n) => n.reachable).map((n) => n.name),
    ),
  ])
  if (pgProbes) {
    const pg = pgSettings(pgService(pair)!.postgresql)
    for (const n of nodes) {
      if (!(n.name in pgProbes)) continue
      n.postgres = pgNodeStatus(pgProbes, n.name)
      for (const v of [judgeOnePrimary(pgProbes, n.name, active), judgeLag(pg, pgProbes, n.name)])
        if (!v.ok) reasons.push(`postgresql on ${n.name}: ${v.detail}`)
    }
  }
  reasons.push(...lockInfo)
  // Sync writes the degraded mark and sync times on the active node; copies left on a former
  // active node are history and must not count.
  const activeState = view.states[active]
  const mark = activeState?.degraded
  if (mark) reasons.push(`sync pending since ${mark.since}: ${mark.reason}`)
  for (const [node, items] of Object.entries(lacks as Record<string, { item: string; why: string }[]>)) {
    if (items.length) reasons.push(`${node} is behind ${active}: ${items.map((i) => `${i.item} (${i.why})`).join('; ')}`)
  }
  const fips = obs.ips.map((i) => ({
    address: i.fip.address,
    name: i.fip.name,
    driver: i.fip.driver,
    holders: i.holders,
    unknown: i.unknown,
    ...(i.error ? { error: i.error } : {}),
  }))
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
    else if (svc.singleton && running.length === 1 && running[0] !== active)
      reasons.push(`singleton ${svc.name} runs on ${running[0]}, not on the active node ${active}`)
  }
  reasons.push(...answers)
  const verify = Object.values(view.states)
    .map((st) => st.verify)
    .filter(Boolean)
    .sort((a, b) => b!.at.localeCompare(a!.at))[0]
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
    ...inflightLines(pair, inflight, active),
    ms: Date.now() - started,
  }
}

function inflightLines(pair: Pair, recs: Awaited<ReturnType<typeof readAllInflight>>, active: string): { inflight?: string[] } {
  const lines = Object.values(recs)
    .map((r) => describeInflight(pair, r, active))
    .filter((x): x is string => !!x)
  return lines.length ? { inflight: lines } : {}
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

/** Every reachable node's PostgreSQL at once, or undefined when the pair has none. */
async function probePgNodes(pool: SshPool, pair: Pair, names: string[]): Promise<PgProbes | undefined> {
  const svc = pgService(pair)
  if (!svc) return undefined
  const pg = pgSettings(svc.postgresql)
  const got = await Promise.all(
    names.map(async (n) => {
      try {
        return await probePg(sessionExec(pool.session(pair, n)), pg)
      } catch (e) {
        if (!(e instanceof HapairError)) throw e
        return e.message
      }
    }),
  )
  return Object.fromEntries(names.map((n, i) => [n, got[i]]))
}

/** Pure: one node's line of PostgreSQL facts from the probes of all nodes. */
export function pgNodeStatus(st: PgProbes, node: string): PgNodeStatus {
  const s = st[node]
  if (typeof s !== 'object') return { role: 'unknown', replication: `not probed: ${s ?? 'no answer'}` }
  const primary = Object.values(st).find((x): x is PgState => typeof x === 'object' && x.role === 'primary')
  if (s.role === 'primary') {
    const r = s.replicas.map((x) => `${x.name} ${x.state}${x.sync && x.sync !== 'async' ? ` (${x.sync})` : ''}`)
    return { role: s.role, timeline: s.timeline, replication: r.length ? `to ${r.join(', ')}` : 'no standby connected' }
  }
  if (s.role === 'standby') {
    const lag = primary?.flush && s.replay ? Number(lagBytes(primary.flush, s.replay)) : undefined
    const from = s.receiver ? `${s.receiver.status}${s.receiver.host ? ` from ${s.receiver.host}` : ''}` : 'no WAL receiver'
    return {
      role: s.role,
      timeline: s.receiver?.timeline ?? s.timeline,
      replication: from,
      ...(lag !== undefined ? { lagBytes: lag } : {}),
      ...(s.replayPaused ? { replayPaused: true } : {}),
    }
  }
  return {
    role: s.role,
    timeline: s.timeline,
    replication: s.role === 'down' ? `stopped (${s.control?.state ?? 'no control file'})` : (s.error ?? 'not answering'),
  }
}

/** An operation lock or an unfinished journal on any node: a failover is running or was interrupted. */
async function readLocks(pool: SshPool, pair: Pair, names: string[]): Promise<string[]> {
  const out = await Promise.all(
    names.map((n) =>
      lockState(pool.session(pair, n), pair).catch((e) => {
        if (e instanceof RemoteError) return undefined
        throw e
      }),
    ),
  )
  return [...new Set(out.filter((x): x is string => !!x))]
}

/** Text for a person: one block per pair. Pure, so it is tested on its own. */
export function formatStatus(pairs: PairStatus[]): string {
  const lines: string[] = []
  for (const p of pairs) {
    lines.push(
      `pair ${p.name}: active ${p.active} (epoch ${p.epoch}${p.activeSource === 'inventory' ? ', from inventory: no failover recorded' : ''})${p.degraded ? '  DEGRADED' : '  healthy'}`,
    )
    for (const n of p.nodes) {
      const svc = Object.entries(n.services)
        .map(([k, v]) => `${k}:${v === null ? '?' : v ? 'up' : 'down'}`)
        .join(' ')
      const mark = n.name === p.active ? '*' : ' '
      lines.push(
        `  ${mark} ${n.name.padEnd(12)} ${n.address.padEnd(16)} ${n.role.padEnd(9)} ${n.reachable ? 'reachable  ' : n.sudoRefused ? 'NO SUDO    ' : 'UNREACHABLE'} ${svc}`,
      )
      if (n.postgres)
        lines.push(
          `      postgresql ${n.postgres.role} timeline ${n.postgres.timeline ?? '?'}, ${n.postgres.replication}${n.postgres.lagBytes !== undefined ? `, lag ${n.postgres.lagBytes} bytes` : ''}${n.postgres.replayPaused ? ', REPLAY PAUSED' : ''}`,
        )
    }
    for (const f of p.floatingIps) {
      lines.push(
        `    floating ${f.address} (${f.driver}) on ${f.holders.length ? f.holders.join(', ') : 'no node'}${f.unknown.length ? ` (unknown: ${f.unknown.join(', ')})` : ''}`,
      )
    }
    for (const r of p.degradedReasons) lines.push(`    ! ${r}`)
    for (const r of p.inflight ?? []) lines.push(`    in flight: ${r}`)
    if (p.lastSync) lines.push(`    oldest sync ${p.lastSync}`)
    if (p.lastVerify) lines.push(`    last verify ${p.lastVerify.at} ${p.lastVerify.ok ? 'ok' : 'FAILED'}`)
  }
  return lines.join('\n')
}
