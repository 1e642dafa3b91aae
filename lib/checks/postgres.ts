// Verify for a pair with a PostgreSQL service: what a failover would need to be safe, checked
// before one is needed. Every node is probed once per run (lib/postgres/state.ts, one round trip)
// and the five checks judge the same probes, so they never disagree about a moment in between.
// Pairs without a PostgreSQL service are not asked (appliesTo), so their reports stay as they were.
import type { Pair } from '../inventory/schema.ts'
import { playbookCommand } from '../hint.ts'
import { pgService, pgSettings, slotName, type PgSettings } from '../postgres/config.ts'
import { sessionExec } from '../postgres/exec.ts'
import { lagBytes } from '../postgres/lsn.ts'
import { probePg, type PgState } from '../postgres/state.ts'
import { iecBytes } from '../format.ts'
import { failureDetail } from '../outcome.ts'
import type { Check, CheckContext, CheckResult, Verdict } from './types.ts'

/** Probes per node; a node that could not be probed holds the reason as a string. */
export type PgProbes = Record<string, PgState | string>

const probes = new WeakMap<CheckContext, Promise<PgProbes>>()

function probeAll(ctx: CheckContext, pg: PgSettings): Promise<PgProbes> {
  let p = probes.get(ctx)
  if (!p) {
    p = (async () => {
      const got = await Promise.all(
        ctx.reachable.map(async (n) => {
          try {
            return await probePg(sessionExec(ctx.pool.session(ctx.pair, n)), pg)
          } catch (e) {
            return failureDetail(e)
          }
        }),
      )
      // In the pair's order, so details name nodes the same way every run.
      return Object.fromEntries(ctx.reachable.map((n, i) => [n.name, got[i]]))
    })()
    probes.set(ctx, p)
  }
  return p
}

const known = (s: PgState | string | undefined): s is PgState => typeof s === 'object'
const primaries = (st: PgProbes) =>
  Object.entries(st)
    .filter(([, s]) => known(s) && s.role === 'primary')
    .map(([n]) => n)
const lagText = (b: bigint) => `${b} bytes (${iecBytes(Number(b))})`

/** Pure. Exactly one node is primary, and it is the active one; a node whose role cannot be told fails. */
export function judgeOnePrimary(st: PgProbes, node: string, active: string): Verdict {
  const s = st[node]
  if (!known(s)) return { ok: false, detail: `cannot tell whether PostgreSQL here is a primary: ${s ?? 'not probed'}` }
  if (s.role === 'unknown') return { ok: false, detail: `PostgreSQL runs but does not answer (${s.error ?? 'unknown state'}): it may be a primary` }
  const ps = primaries(st)
  if (s.role === 'primary' && ps.length > 1)
    return {
      ok: false,
      detail: `${ps.length} primaries (${ps.join(', ')}): two live databases accept writes; fail over to ${active} again (it fences and rewinds the other), never write to both`,
    }
  if (ps.length === 0) return { ok: false, detail: `no node is a primary (${node} is ${s.role}): nothing accepts writes; fail over to a standby` }
  if (s.role === 'primary' && node !== active)
    return { ok: false, detail: `primary here, but the active node is ${active}: clients reach ${active}; fail over to ${node} or back to ${active}` }
  if (s.role === 'primary') return { ok: true, detail: `the only primary (timeline ${s.timeline ?? '?'})` }
  if (node === active) return { ok: false, detail: `the active node is a ${s.role}, the primary is ${ps[0]}` }
  return { ok: true, detail: s.role === 'down' ? `not running (the primary is ${ps[0]})` : `standby; the only primary is ${ps[0]}` }
}

/** Pure. Each standby streams from the primary with replay at most maxLagBytes behind its flushed WAL. */
export function judgeLag(pg: PgSettings, st: PgProbes, node: string): Verdict {
  const s = st[node]
  if (!known(s)) return { ok: false, detail: `cannot probe PostgreSQL: ${s ?? 'not probed'}` }
  const pn = primaries(st)[0]
  const p = pn ? (st[pn] as PgState) : undefined
  if (s.role === 'primary') {
    const streaming = s.replicas.filter((r) => r.state === 'streaming')
    const sync = streaming.filter((r) => r.sync === 'sync' || r.sync === 'quorum').map((r) => r.name)
    if (pg.mode === 'sync' && pair2Standbys(st, node) && !sync.length)
      return {
        ok: false,
        detail: `sync mode, but no standby is synchronous (${s.replicas.map((r) => `${r.name}: ${r.state}/${r.sync}`).join(', ') || 'none connected'}): a commit waits or has one copy only`,
      }
    return {
      ok: true,
      detail: streaming.length ? `primary; streaming to ${streaming.map((r) => `${r.name} (${r.sync})`).join(', ')}` : 'primary; no standby connected',
    }
  }
  if (s.role !== 'standby') return { ok: false, detail: `PostgreSQL is ${s.role}${s.error ? ` (${s.error})` : ''}: this node holds no current copy` }
  if (!p) return { ok: false, detail: 'standby, but no primary was found to measure the lag against' }
  const bad: string[] = []
  if (s.receiver?.status !== 'streaming')
    bad.push(`not streaming (WAL receiver ${s.receiver?.status ?? 'not running'}): it falls behind with every write; check primary_conninfo and the network`)
  if (s.replayPaused) bad.push('WAL replay is paused: run pg_wal_replay_resume() here, a failover would refuse this standby')
  const lag = p.flush && s.replay ? lagBytes(p.flush, s.replay) : undefined
  if (lag === undefined) bad.push('lag cannot be measured (no WAL position)')
  else if (lag > BigInt(pg.maxLagBytes)) bad.push(`replay lags ${pn} by ${lagText(lag)}, more than maxLagBytes ${pg.maxLagBytes}`)
  return bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: `streams from ${pn}, replay ${lagText(lag!)} behind (max ${pg.maxLagBytes})` }
}

/** Other nodes of the pair probed as standbys or down: sync mode then expects one synchronous standby. */
const pair2Standbys = (st: PgProbes, primary: string) => Object.entries(st).some(([n, s]) => n !== primary && known(s) && s.role === 'standby')

/**
 * Pure. On the primary: every other node of the pair has its slot, active, keeping at most
 * maxLagBytes of WAL; any other slot that is inactive keeps WAL forever and fails. Standbys keep none.
 */
export function judgeSlots(pg: PgSettings, pair: Pair, st: PgProbes, node: string): Verdict {
  const s = st[node]
  if (!known(s)) return { ok: false, detail: `cannot probe PostgreSQL: ${s ?? 'not probed'}` }
  if (s.role !== 'primary')
    return {
      ok: true,
      detail: s.slots.length
        ? `${s.role}; holds slots ${s.slots.map((x) => x.name).join(', ')} (unused until it is promoted)`
        : `${s.role}; slots live on the primary`,
    }
  const bad: string[] = []
  const good: string[] = []
  const wanted = pair.nodes.filter((n) => n.name !== node).map((n) => ({ node: n.name, slot: slotName(pg, n.name) }))
  for (const w of wanted) {
    const slot = s.slots.find((x) => x.name === w.slot)
    if (!slot) {
      bad.push(`slot ${w.slot} for ${w.node} is missing: ${w.node} may lose WAL it still needs (the next failover or pg-rejoin makes it)`)
      continue
    }
    const kept = s.flush && slot.restart ? lagBytes(s.flush, slot.restart) : undefined
    if (!slot.active)
      bad.push(`slot ${w.slot} is inactive: ${w.node} does not stream through it${kept !== undefined ? `, and it keeps ${lagText(kept)} of WAL` : ''}`)
    else if (kept !== undefined && kept > BigInt(pg.maxLagBytes))
      bad.push(`slot ${w.slot} keeps ${lagText(kept)} of WAL, more than maxLagBytes ${pg.maxLagBytes}: ${w.node} confirms too slowly`)
    else good.push(`${w.slot} active${kept !== undefined ? ` (${lagText(kept)} kept)` : ''}`)
  }
  for (const x of s.slots) {
    if (!wanted.some((w) => w.slot === x.name) && !x.active)
      bad.push(`slot ${x.name} belongs to no node of the pair and is inactive: it keeps WAL until the disk fills; drop it (pg_drop_replication_slot)`)
  }
  return bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: good.join(', ') || 'no standby in the pair' }
}

/** Pure. Every running node is on the primary's timeline; a standby on another one cannot follow it. */
export function judgeTimelines(st: PgProbes, node: string): Verdict {
  const s = st[node]
  if (!known(s)) return { ok: false, detail: `cannot probe PostgreSQL: ${s ?? 'not probed'}` }
  const ps = primaries(st)
  const ref = ps.map((n) => ({ n, tli: (st[n] as PgState).timeline }))
  const mine = s.receiver?.timeline ?? s.timeline
  if (s.role === 'down') return { ok: true, detail: `not running (last checkpoint on timeline ${s.timeline ?? '?'})` }
  if (mine === undefined) return { ok: false, detail: `timeline unknown (${s.role})` }
  const other = ref.filter((r) => r.n !== node && r.tli !== mine)
  if (other.length)
    return {
      ok: false,
      detail: `timeline ${mine} here, but ${other.map((r) => `${r.n} is on ${r.tli}`).join(', ')}: the histories have forked; the node not chosen must be rewound (${playbookCommand('pg-rejoin')})`,
    }
  if (!ref.length) return { ok: false, detail: `timeline ${mine}; no primary to compare with` }
  return { ok: true, detail: `timeline ${mine}${s.role === 'standby' ? `, the primary's (${ref[0].n})` : ''}` }
}

/** Pure. pg_rewind needs wal_log_hints or data checksums on the node it rewinds, which can be any node. */
export function judgeRewindable(st: PgProbes, node: string): Verdict {
  const s = st[node]
  if (!known(s)) return { ok: false, detail: `cannot probe PostgreSQL: ${s ?? 'not probed'}` }
  if (s.checksums) return { ok: true, detail: `data checksums on${s.walLogHints ? ', wal_log_hints on' : ''}` }
  if (s.walLogHints) return { ok: true, detail: 'wal_log_hints on' }
  if (s.walLogHints === undefined && s.checksums === undefined) return { ok: false, detail: `cannot read wal_log_hints or data_checksums (${s.role})` }
  return {
    ok: false,
    detail:
      'wal_log_hints off and data checksums off: after a failover this node cannot be rewound, only re-cloned in full; set wal_log_hints = on and restart it',
  }
}

type Judge = (pg: PgSettings, ctx: CheckContext, st: PgProbes, node: string) => Verdict

function pgCheck(name: string, summary: string, judge: Judge): Check {
  return {
    name,
    summary,
    appliesTo: (pair) => !!pgService(pair),
    run: async (ctx): Promise<CheckResult[]> => {
      const svc = pgService(ctx.pair)
      const started = performance.now()
      if (!svc) return ctx.reachable.map((n) => ({ pair: ctx.pair.name, node: n.name, check: name, ok: true, detail: 'no PostgreSQL service', ms: 0 }))
      const pg = pgSettings(svc.postgresql)
      const st = await probeAll(ctx, pg)
      const ms = performance.now() - started
      return ctx.reachable.map((n) => ({ pair: ctx.pair.name, node: n.name, check: name, ...judge(pg, ctx, st, n.name), ms }))
    },
  }
}

export const pgPrimaryCheck = pgCheck(
  'pg-primary',
  'PostgreSQL: exactly one node is primary, the active one; every other is a standby or stopped',
  (_pg, ctx, st, node) => judgeOnePrimary(st, node, ctx.active),
)
export const pgLagCheck = pgCheck('pg-lag', 'PostgreSQL: every standby streams from the primary, replay within maxLagBytes, not paused', (pg, _ctx, st, node) =>
  judgeLag(pg, st, node),
)
export const pgSlotsCheck = pgCheck(
  'pg-slots',
  'PostgreSQL: the primary has an active slot per standby, none keeping more than maxLagBytes of WAL',
  (pg, ctx, st, node) => judgeSlots(pg, ctx.pair, st, node),
)
export const pgTimelineCheck = pgCheck(
  'pg-timeline',
  "PostgreSQL: every running node is on the primary's timeline (no forked history)",
  (_pg, _ctx, st, node) => judgeTimelines(st, node),
)
export const pgRewindCheck = pgCheck(
  'pg-rewind',
  'PostgreSQL: wal_log_hints or data checksums on every node, so pg_rewind can bring an old primary back',
  (_pg, _ctx, st, node) => judgeRewindable(st, node),
)

export const PG_CHECKS = [pgPrimaryCheck, pgLagCheck, pgSlotsCheck, pgTimelineCheck, pgRewindCheck]
