// The decision, as a pure function of what the probes saw: tests drive it with tables, the
// watcher calls it every few milliseconds. The rule (README "Automatic failover"):
//   the active is down for the watcher: no echo for deadAfterMs from a probe that is itself
//     running, or (hung) no check answered and no SSH heartbeat arrived for hungAfterMs;
//   and every surviving node the watcher can reach, whose own view is current, agrees;
//   and at least one such survivor exists.
// A survivor that still sees the active vetoes: the watcher is the one cut off. Evidence
// older than `since` (the watcher was stalled) never counts.
import type { Track } from './ping.ts'
import type { WatchSettings } from '../inventory/watch-settings.ts'

export interface ActiveEvidence {
  ping: Track
  /** Last time every network check of the active answered (node address). */
  checksOk?: number
  /** Last line of the active's SSH heartbeat (a shell there printing one every check interval). */
  sshOk?: number
}

export interface SurvivorEvidence {
  node: string
  /**
   * The watcher's own ping of the survivor, when it runs one. Without it the survivor's stream
   * is the proof: its lines arrive over the watcher's connection to it, every interval.
   */
  ping?: Track
  /** The survivor's ping of the active. */
  view: Track
  /** The survivor's service checks of the active. */
  checks: Track & { checksOk?: number }
}

export interface DecideInput {
  now: number
  /** Observations before this instant are stale (start, a stall, a takeover). */
  since: number
  cfg: Pick<WatchSettings, 'deadAfterMs' | 'hungAfterMs' | 'intervalMs' | 'checkIntervalMs'>
  active: string
  evidence: ActiveEvidence
  survivors: SurvivorEvidence[]
}

export type State = 'ok' | 'suspect' | 'vetoed' | 'no-quorum' | 'confirmed'

export interface WatchVerdict {
  state: State
  /** dead: no echo; hung: echoes but nothing above the kernel answers. */
  how?: 'dead' | 'hung'
  /** Survivors that agree the active is down (the takeover candidates, in inventory order). */
  agree: string[]
  vetoedBy: string[]
  reason: string
}

/** Age of the newest of t and since: silence before `since` is not evidence. */
const age = (now: number, since: number, t: number | undefined) => now - Math.max(t ?? 0, since)

/** A stream is current when it printed anything within this window (ping -O prints per echo). */
const current = (now: number, t: Track, windowMs: number) => t.line !== undefined && now - t.line <= windowMs

export function decide(i: DecideInput): WatchVerdict {
  const { now, cfg } = i
  const since = Math.max(i.since, 0)
  const e = i.evidence
  const streamWindow = Math.max(cfg.deadAfterMs, 5 * cfg.intervalMs)
  const pingDead = current(now, e.ping, streamWindow) && age(now, Math.max(since, e.ping.since), e.ping.reply) > cfg.deadAfterMs
  // Hung means answering echoes all along while nothing above the kernel answers: right after
  // a partition heals, checks have simply not had their turn yet.
  const echoing = e.ping.upSince !== undefined && now - Math.max(e.ping.upSince, since) > cfg.hungAfterMs
  const hung = !pingDead && echoing && age(now, since, e.checksOk) > cfg.hungAfterMs && age(now, since, e.sshOk) > cfg.hungAfterMs
  if (!pingDead && !hung) return { state: 'ok', agree: [], vetoedBy: [], reason: `${i.active} answers` }
  const how = pingDead ? 'dead' : 'hung'
  const agree: string[] = []
  const vetoedBy: string[] = []
  const silent: string[] = []
  const undecided: string[] = []
  for (const s of i.survivors) {
    // The survivor is pinged less often (it only votes): a few lost echoes must not silence it.
    const reachable = s.ping
      ? age(now, Math.max(since, s.ping.since), s.ping.reply) <= Math.max(cfg.deadAfterMs, 500)
      : current(now, s.view, Math.max(cfg.deadAfterMs, 500))
    if (!reachable) {
      silent.push(s.node)
      continue
    }
    if (how === 'dead') {
      if (!current(now, s.view, streamWindow)) {
        silent.push(s.node)
        continue
      }
      const a = age(now, Math.max(since, s.view.since), s.view.reply)
      if (a <= cfg.deadAfterMs / 2) vetoedBy.push(s.node)
      else if (a > cfg.deadAfterMs) agree.push(s.node)
      else undecided.push(s.node)
    } else {
      if (!current(now, s.checks, Math.max(cfg.hungAfterMs, 3 * cfg.checkIntervalMs))) {
        silent.push(s.node)
        continue
      }
      const a = age(now, Math.max(since, s.checks.since), s.checks.checksOk)
      if (a <= cfg.hungAfterMs / 2) vetoedBy.push(s.node)
      else if (a > cfg.hungAfterMs) agree.push(s.node)
      else undecided.push(s.node)
    }
  }
  const what =
    how === 'dead'
      ? `no echo from ${i.active} for ${age(now, since, e.ping.reply)} ms`
      : `${i.active} answers echoes but no check or SSH heartbeat for ${cfg.hungAfterMs} ms`
  if (vetoedBy.length)
    return {
      state: 'vetoed',
      how,
      agree,
      vetoedBy,
      reason: `${what}, but ${vetoedBy.join(', ')} still ${how === 'dead' ? 'reaches' : 'gets answers from'} it: this watcher is the one cut off`,
    }
  // Every survivor that can answer must agree; one that cannot be asked has no vote.
  if (agree.length && !undecided.length) {
    return { state: 'confirmed', how, agree, vetoedBy, reason: `${what}; ${agree.join(', ')} agree${agree.length === 1 ? 's' : ''}` }
  }
  if (!agree.length && !undecided.length)
    return { state: 'no-quorum', how, agree, vetoedBy, reason: `${what}, and no other node can be asked (${silent.join(', ') || 'none'}): doing nothing` }
  return { state: 'suspect', how, agree, vetoedBy, reason: `${what}; waiting for ${undecided.join(', ')}` }
}
