// The PostgreSQL part of a switchover, called from the steps in run.ts and plan.ts. The generic
// steps already stop the old primary (its service's stop command: a fast shutdown, which writes
// the shutdown checkpoint and lets the standbys receive it) and start the target; this adds
// what a database needs between and after them:
//   preflight  the target streams and lags at most maxLagBytes (old primary up), or, with the
//              old primary unreachable: sync mode, the standby that received the most; async
//              mode, within maxLagBytes of what the primary last said it had
//   fence      the stopped primary's last checkpoint, and standby.signal so it restarts read-only
//   start      the target replays past that checkpoint, then pg_promote
//   rejoin     every other reachable node is rewound (or re-cloned) into a streaming standby
import type { Node, Pair, Service } from '../inventory/schema.ts'
import type { SshPool } from '../ssh.ts'
import { playbookCommand } from '../hint.ts'
import { reachable, type Observation } from '../observe.ts'
import { pgService, pgSettings, type PgSettings } from '../postgres/config.ts'
import { sessionExec, type Exec } from '../postgres/exec.ts'
import { probePg, streaming, type PgState } from '../postgres/state.ts'
import { lagBytes, parseLsn } from '../postgres/lsn.ts'
import { shutDownAsPrimary, type ControlData } from '../postgres/controldata.ts'
import { afterStop, controlData, rejoinAsStandby, setSyncStandbys } from '../postgres/standby.ts'
import { replayThenPromote } from '../postgres/promote.ts'
import type { Plan } from './plan.ts'

/** Control data of primaries this run stopped, per plan and node. */
const stopped = new WeakMap<Plan, Map<string, ControlData | undefined>>()

const execOn = (pool: SshPool, pair: Pair, n: Node): Exec => sessionExec(pool.session(pair, n))
const mib = (b: bigint) => `${(Number(b) / 1048576).toFixed(2)} MiB`

export interface PgPreflight {
  problems: string[]
  risks: string[]
  warnings: string[]
}

/** Pure: the rules, from the probes (undefined: that node could not be asked). */
export function pgTargetRules(pg: PgSettings, target: string, states: Record<string, PgState | undefined>, active: string): PgPreflight {
  const out: PgPreflight = { problems: [], risks: [], warnings: [] }
  const t = states[target]
  if (!t) return out
  if (t.role === 'primary') return out // a resumed run after promotion, or converging onto the live primary
  if (t.role === 'down') {
    out.problems.push(`target ${target}'s PostgreSQL is not running: it cannot be promoted`)
    return out
  }
  if (t.role === 'unknown') {
    out.problems.push(`target ${target}'s PostgreSQL does not answer: ${t.error ?? 'unknown state'}`)
    return out
  }
  if (t.replayPaused) out.problems.push(`target ${target} has WAL replay paused (pg_wal_replay_resume() first): it would never catch up`)
  const others = Object.entries(states).filter(([n]) => n !== target)
  const primary = others.find(([, s]) => s?.role === 'primary')
  const limit = BigInt(pg.maxLagBytes)
  if (primary) {
    const [pn, ps] = primary
    if (!streaming(t))
      out.problems.push(
        `target ${target} is not streaming from ${pn} (its WAL receiver is ${t.receiver?.status ?? 'not running'}): it would miss what ${pn} writes`,
      )
    if (ps!.flush && t.replay) {
      const lag = lagBytes(ps!.flush, t.replay)
      if (lag > limit) out.problems.push(`target ${target} lags ${pn} by ${lag} bytes (${mib(lag)}), more than maxLagBytes ${pg.maxLagBytes}`)
    }
    if (out.problems.length) out.risks.push(`--force promotes ${target} although it may lack WAL that ${pn} acknowledged`)
    return out
  }
  // No primary runs: a clean shutdown says exactly where the old primary's WAL ends.
  const old = states[active]
  if (active !== target && old && !old.running) {
    if (shutDownAsPrimary(old.control) && old.control?.checkpoint && t.replay && parseLsn(t.replay) <= parseLsn(old.control.checkpoint) && !t.receiver) {
      out.problems.push(`${active} stopped at ${old.control.checkpoint} but target ${target} replayed only to ${t.replay} and receives nothing`)
    } else if (old.control?.state === 'in production') {
      out.problems.push(
        `${active}'s PostgreSQL stopped without a clean shutdown: where its WAL ends is not known; start it so ${target} can catch up, or --force`,
      )
      out.risks.push(`--force promotes ${target} without what ${active} wrote last`)
    }
    return out
  }
  if (old && old.running) return out
  // Unplanned: the old primary cannot be asked.
  const receives = others.filter(([, s]) => s?.role === 'standby' && s.receive).map(([n, s]) => ({ n, lsn: s!.receive! }))
  if (pg.mode === 'sync') {
    const ahead = receives.filter((x) => t.receive && parseLsn(x.lsn) > parseLsn(t.receive))
    if (ahead.length)
      out.problems.push(
        `sync mode: ${ahead.map((x) => `${x.n} (${x.lsn})`).join(', ')} received more than target ${target} (${t.receive}); promote the one that received the most`,
      )
    else
      out.warnings.push(
        `${active} unreachable: promoting ${target}, the synchronous standby that received the most (${t.receive ?? 'nothing'}): no acknowledged commit is lost`,
      )
  } else if (t.receiver?.latestEnd && t.receive) {
    const lag = lagBytes(t.receiver.latestEnd, t.receive)
    if (lag > limit)
      out.problems.push(
        `async mode: ${target} lacks ${lag} bytes of what ${active} last reported (${t.receiver.latestEnd}), more than maxLagBytes ${pg.maxLagBytes}`,
      )
    else
      out.warnings.push(
        `${active} unreachable: promoting ${target} at ${t.receive}; asynchronous replication: commits after ${t.receive} (${lag} bytes known missing, ${Math.round(t.receiver.latestEndAgeS ?? 0)} s old) may be lost`,
      )
  } else {
    out.problems.push(
      `async mode: ${target}'s WAL receiver stopped, so how much ${active} wrote that ${target} lacks cannot be measured; --force accepts the loss`,
    )
  }
  if (out.problems.length) out.risks.push(`--force promotes ${target} although acknowledged commits of ${active} may be missing`)
  return out
}

/** Preflight: probes every reachable node (one round trip each, at once) and applies the rules. */
export async function pgPreflight(pool: SshPool, pair: Pair, obs: Observation, target: Node): Promise<PgPreflight> {
  const svc = pgService(pair)
  if (!svc || !reachable(obs, target.name)) return { problems: [], risks: [], warnings: [] }
  const pg = pgSettings(svc.postgresql)
  const states: Record<string, PgState | undefined> = {}
  await Promise.all(
    pair.nodes
      .filter((n) => reachable(obs, n.name))
      .map(async (n) => {
        states[n.name] = await probePg(execOn(pool, pair, n), pg)
      }),
  )
  return pgTargetRules(pg, target.name, states, obs.view.active)
}

/** Fence, after a service's stop command on `node`: for PostgreSQL, where its WAL ends, and standby.signal. */
export async function pgAfterStop(pool: SshPool, p: Plan, node: Node, svc: Service): Promise<void> {
  if (!svc.postgresql) return
  const cd = await afterStop(execOn(pool, p.pair, node), pgSettings(svc.postgresql))
  if (!stopped.has(p)) stopped.set(p, new Map())
  stopped.get(p)!.set(node.name, cd)
}

/** Start, before the target's start commands: wait for replay past the old primary's end, then promote. */
export async function pgPromoteTarget(pool: SshPool, p: Plan): Promise<string> {
  const svc = pgService(p.pair)
  if (!svc) return ''
  const pg = pgSettings(svc.postgresql)
  const exec = execOn(pool, p.pair, p.to)
  // No probe first: the promotion statement itself is a no-op on a primary and fails on a stopped server.
  // Where the old primary's WAL ends: recorded when this run stopped it, else read now (a resumed run).
  const ends = [...(stopped.get(p)?.values() ?? [])]
    .filter(shutDownAsPrimary)
    .map((c) => c!.checkpoint!)
    .filter(Boolean)
  if (!ends.length && p.from.name !== p.to.name && reachable(p.obs, p.from.name)) {
    const cd = await controlData(execOn(pool, p.pair, p.from), pg).catch(() => undefined)
    if (shutDownAsPrimary(cd) && cd!.checkpoint) ends.push(cd!.checkpoint)
  }
  const end = ends.sort((a, b) => (parseLsn(a) < parseLsn(b) ? 1 : -1))[0]
  const t0 = Date.now()
  const r = await replayThenPromote(exec, pg, end)
  return `${svc.name}: ${end ? `replayed past the old primary's end ${end} (to ${r.replayed}) in ${r.replayMs} ms, ` : 'old primary unreachable, '}promoted ${p.to.name} in ${r.promoteMs} ms (${Date.now() - t0} ms with the round trip)`
}

/** After the record: every other reachable node streams from the new primary; unreachable ones are named. */
export async function pgRejoinStep(pool: SshPool, p: Plan): Promise<string | { detail: string; warning: boolean }> {
  const svc = pgService(p.pair)
  if (!svc) return 'no PostgreSQL service'
  const pg = pgSettings(svc.postgresql)
  const primary = execOn(pool, p.pair, p.to)
  const out: string[] = []
  const bad: string[] = []
  const before = await probePg(primary, pg)
  const others = p.pair.nodes.filter((n) => n.name !== p.to.name)
  await Promise.all(
    others.map(async (n) => {
      if (!reachable(p.obs, n.name) || p.powerOff.includes(n) || p.off.includes(n)) {
        bad.push(`${n.name} is down: before its PostgreSQL starts again it must rejoin as a standby (${playbookCommand('pg-rejoin', ['--pair', p.pair.name])})`)
        return
      }
      if (before.replicas.some((r) => r.name === n.name && r.state === 'streaming')) {
        out.push(`${n.name} already streams`)
        return
      }
      try {
        const s = pool.session(p.pair, n)
        const r = await rejoinAsStandby(
          {
            exec: sessionExec(s),
            name: n.name,
            start: async () => {
              const res = await s.run({ script: svc.start }, { check: false, timeoutMs: 130000 })
              if (res.code !== 0) throw new Error(`${svc.start}: exit ${res.code}: ${(res.stderr + res.stdout).trim().replace(/\s*\n\s*/g, ' / ')}`)
            },
          },
          { exec: primary, node: p.to },
          pg,
        )
        out.push(`${n.name} streams from ${p.to.name} (${r.how === 'none' ? 'no rewind needed' : r.how}, slot ${r.slot}, ${r.ms} ms)`)
      } catch (e) {
        bad.push(`${n.name} did not rejoin: ${(e as Error).message}`)
      }
    }),
  )
  if (pg.mode === 'sync') {
    const after = await probePg(primary, pg)
    const names = after.replicas.filter((r) => r.state === 'streaming').map((r) => r.name)
    // Until a standby streams, commits on the new primary are acknowledged by it alone: said as a warning.
    if (names.length) out.push(`synchronous_standby_names = '${await setSyncStandbys(primary, pg, names)}'`)
    else bad.push(`no standby streams from ${p.to.name}: commits are acknowledged without a second copy (synchronous replication resumes when one rejoins)`)
  }
  return bad.length ? { detail: [...out, ...bad].join('; '), warning: true } : out.join('; ')
}
