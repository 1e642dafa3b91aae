// One pair under watch: the probes (lib/watch/ping.ts, checks.ts), the verdict every few
// milliseconds (decide.ts), and what follows from it. A takeover is failover.ts's own
// runFailover (lock, fence, move IPs, start, post-check, record, audit): the watcher adds the
// decision, never a second way of switching.
import type { LoadedInventory } from '../inventory/load.ts'
import { stateDir } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { RefusedError, RemoteError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { lockState } from '../lock.ts'
import { fenceDriver } from '../drivers/index.ts'
import type { FenceDriver } from '../drivers/types.ts'
import { runFailover, type FailoverResult } from '../failover/run.ts'
import { sh } from '../shell.ts'
import { leaseSettings, watchSettings, type WatchSettings } from '../inventory/watch-settings.ts'
import { decide, type State, type SurvivorEvidence, type WatchVerdict } from './decide.ts'
import { heartbeat, localPing, remotePing, type Prober } from './ping.ts'
import { CheckLoop, networkChecks, remoteChecks, type CheckTarget } from './checks.ts'
import { inForce, type PauseRecord } from './pause.ts'
import { readWatchState } from './refresh.ts'
import { pgService } from '../postgres/config.ts'
import { rejoinPair } from '../postgres/rejoin-pair.ts'
import { readInflight } from '../sync/follow/inflight.ts'
import type { EventName } from './events.ts'
import type { Metrics } from './metrics.ts'
import { peerAddress } from '../inventory/peer-address.ts'

export type Emit = (pair: string, event: EventName, fields?: Record<string, unknown>) => void

export interface PairWatchOptions {
  emit: Emit
  metrics?: Metrics
  /** How often the records, the pause and the lock are re-read (default REFRESH_MS). */
  refreshMs?: number
  /** Post-check deadline of a takeover (default 10 s). */
  postCheckTimeoutMs?: number
}

/** Driver methods the lease fencing adds to the contract (lib/drivers/fence-lease.ts). */
interface LeaseFence extends FenceDriver {
  renew(active: Node, epoch: number): Promise<{ until: number }>
  disarm?(active: Node): Promise<unknown>
}
const isLease = (f: FenceDriver | undefined): f is LeaseFence => !!f && f.kind === 'lease' && typeof (f as LeaseFence).renew === 'function'

interface Probes {
  active: string
  ping: Prober
  /** The active's heartbeat over SSH (ping.ts): its last line is the evidence's sshOk. */
  ssh: Prober
  checks: CheckLoop
  vips: CheckLoop
  /** Each service's node-address check keys (fixed while armed: serviceHealth runs every tick). */
  serviceKeys: { name: string; keys: string[] }[]
  /** No ping of its own per survivor: the survivor's stream arriving over our connection proves it is there. */
  survivors: { node: Node; view: Prober; checks: ReturnType<typeof remoteChecks> }[]
}

/**
 * The records, the pause and the lock are re-read every 2 s. The verdict never reads them
 * (decide.ts judges the probes alone): the interval is only how soon a planned failover, another
 * watcher's takeover, a pause or a dead run's lock is noticed. Every action takes the pair lock,
 * so noticing later never lets two act, and a takeover re-reads at once when it ends.
 */
export const REFRESH_MS = 2000

/** Lease renewals pause once the active has missed this many echoes in a row (see renewLease). */
const RENEW_HOLD_INTERVALS = 2

/**
 * One timer per interval for all the pairs of this process, not one per pair: at the default
 * 20 ms, twenty pairs with timers of their own wake the process a thousand times a second. Each
 * pair still measures its own gap between ticks.
 */
const tickers = new Map<number, { timer: NodeJS.Timeout; fns: Set<() => void> }>()
function onTick(ms: number, fn: () => void): () => void {
  let t = tickers.get(ms)
  if (!t) {
    const fns = new Set<() => void>()
    t = {
      fns,
      timer: setInterval(() => {
        for (const f of fns) f()
      }, ms),
    }
    tickers.set(ms, t)
  }
  const own = t
  own.fns.add(fn)
  return () => {
    own.fns.delete(fn)
    if (!own.fns.size && tickers.get(ms) === own) {
      clearInterval(own.timer)
      tickers.delete(ms)
    }
  }
}

export class PairWatcher {
  readonly cfg: WatchSettings
  active: string
  epoch = 0
  state: State = 'ok'
  verdict?: WatchVerdict
  paused?: PauseRecord
  private probes?: Probes
  private since = Date.now()
  private lastTick = Date.now()
  private acting = false
  private stopped = false
  private holdDownUntil = 0
  private takeovers: number[] = []
  private restarts = new Map<string, number[]>()
  private failingSince = new Map<string, number>()
  private reported = new Set<string>()
  private timers: NodeJS.Timeout[] = []
  private untick?: () => void
  private fence?: FenceDriver
  private leaseFailing = false
  private renewing = false
  private disarmed = false
  private lastRefresh = 0
  private refreshing = false
  private readonly tickMs: number
  /** PostgreSQL pairs: nodes the last re-read could not reach (a returning one is rejoined). */
  private away = new Set<string>()
  /** PostgreSQL pairs: nodes still to rejoin (at start, every standby: it may have come back while no watcher ran). */
  private toRejoin = new Set<string>()
  private rejoining = false
  private rejoinAfter = 0

  constructor(
    private inv: LoadedInventory,
    private pool: SshPool,
    readonly pair: Pair,
    private o: PairWatchOptions,
  ) {
    this.cfg = watchSettings(inv.data, pair)
    this.tickMs = Math.max(10, this.cfg.intervalMs)
    this.active = pair.primary
    this.fence = fenceDriver({ inv, pair, pool })
    if (pgService(pair)) for (const n of pair.nodes) this.toRejoin.add(n.name)
  }

  private emit(event: EventName, fields: Record<string, unknown> = {}): void {
    this.o.metrics?.inc('hapair_watch_events_total', { pair: this.pair.name, event })
    this.o.emit(this.pair.name, event, fields)
  }

  private node(name: string): Node {
    return this.pair.nodes.find((n) => n.name === name)!
  }

  async start(): Promise<void> {
    await this.refresh(true)
    this.arm(this.active)
    this.untick = onTick(this.tickMs, () => this.tick())
    this.timers.push(
      setInterval(() => {
        if (this.probes && this.verdict) this.publish(this.probes, this.verdict, Date.now())
      }, 1000),
    )
    this.timers.push(
      setInterval(() => {
        void this.refresh(false)
      }, this.o.refreshMs ?? REFRESH_MS),
    )
    if (isLease(this.fence)) {
      const l = leaseSettings(this.pair)
      this.timers.push(
        setInterval(() => {
          void this.renewLease()
        }, l.renewMs),
      )
      void this.renewLease()
    }
    this.lastTick = Date.now()
    this.emit('started', {
      active: this.active,
      epoch: this.epoch,
      nodes: this.pair.nodes.map((n) => n.name),
      fencing: this.fence?.kind ?? 'none',
      paused: inForce(this.paused),
      intervalMs: this.cfg.intervalMs,
      deadAfterMs: this.cfg.deadAfterMs,
      hungAfterMs: this.cfg.hungAfterMs,
    })
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    this.untick?.()
    this.disarmProbes()
  }

  /** Starts the probes for `active` as the active node: every earlier observation is void. */
  private arm(active: string): void {
    this.disarmProbes()
    const a = this.node(active)
    const cfg = this.cfg
    const checks = networkChecks(this.pair)
    const targets: CheckTarget[] = []
    for (const c of checks) {
      targets.push({ key: `node:${a.name}:${c.service}:${c.check.port}`, host: a.address, service: c.service, check: c.check, expect: () => this.active })
      for (const f of this.pair.floatingIps ?? []) {
        if (f.address.includes(':') && f.driver !== 'linux') continue
        targets.push({ key: `vip:${f.address}:${c.service}:${c.check.port}`, host: f.address, service: c.service, check: c.check, expect: () => this.active })
      }
    }
    const probeTimeout = Math.max(100, Math.min(Math.floor(cfg.hungAfterMs / 3), 1000))
    const loop = new CheckLoop(
      targets.filter((t) => t.key.startsWith('node:')),
      cfg.checkIntervalMs,
      probeTimeout,
    )
    loop.start()
    // Through the floating IPs the question is "do clients get the active node", not "is it
    // alive": a slower loop answers it and keeps a watcher of many pairs cheap.
    const vipLoop = new CheckLoop(
      targets.filter((t) => t.key.startsWith('vip:')),
      Math.max(2000, 4 * cfg.checkIntervalMs),
      probeTimeout,
    )
    vipLoop.start()
    const p: Probes = {
      // A hung node's sshd relays nothing: its heartbeat stops with everything else.
      active,
      ping: localPing(a.address, cfg.intervalMs),
      ssh: heartbeat(this.pool.session(this.pair, a), Math.max(cfg.checkIntervalMs, 500)),
      checks: loop,
      vips: vipLoop,
      serviceKeys: (this.pair.services ?? []).map((svc) => ({
        name: svc.name,
        keys: [...loop.state.keys()].filter((k) => k.startsWith(`node:${active}:${svc.name}:`)),
      })),
      survivors: this.pair.nodes
        .filter((n) => n.name !== active)
        .map((n) => {
          const s = this.pool.session(this.pair, n)
          return {
            node: n,
            // The survivor's own view of the active, over the pair's private network where it has one.
            view: remotePing(s, peerAddress(a), cfg.intervalMs),
            checks: remoteChecks(
              s,
              peerAddress(a),
              checks.map((c) => c.check),
              active,
              cfg.checkIntervalMs,
              probeTimeout,
            ),
          }
        }),
    }
    this.probes = p
    this.since = Date.now()
    this.state = 'ok'
    this.failingSince.clear()
  }

  private disarmProbes(): void {
    const p = this.probes
    if (!p) return
    p.ping.stop()
    p.ssh.stop()
    p.checks.stop()
    p.vips.stop()
    for (const s of p.survivors) {
      s.view.stop()
      s.checks.stop()
    }
    this.probes = undefined
  }

  /**
   * The last time any network check of the active answered (node address only). "Hung" asks
   * whether anything above the kernel answers at all: one check failing is a service problem,
   * and under packet loss some check is always failing somewhere.
   */
  private checksOk(p: Probes): number | undefined {
    let newest: number | undefined
    let any = false
    for (const [k, s] of p.checks.state) {
      if (!k.startsWith('node:')) continue
      any = true
      if (s.lastOk !== undefined) newest = Math.max(newest ?? 0, s.lastOk)
    }
    return any ? newest : p.ssh.track.reply
  }

  tick(now = Date.now()): void {
    if (this.stopped) return
    const gap = now - this.lastTick
    this.lastTick = now
    // The watcher itself was stopped (SIGSTOP, a laptop lid): what it saw is old.
    if (gap > Math.max(500, 3 * this.cfg.deadAfterMs)) {
      this.since = now
      this.probes?.checks.reset(now)
      this.emit('stalled', { gapMs: gap, detail: 'observations before the stall are discarded; re-probing before any decision' })
      return
    }
    // A late timer runs before the probe output that queued meanwhile is read: decide only
    // after that I/O, or silence that is only unread lines would look like a dead node.
    if (gap > 3 * this.tickMs) {
      setImmediate(() => this.evaluate(Date.now()))
      return
    }
    this.evaluate(now)
  }

  private evaluate(now: number): void {
    if (this.stopped) return
    const p = this.probes
    if (!p || this.acting) return
    const survivors: SurvivorEvidence[] = p.survivors.map((s) => ({ node: s.node.name, view: s.view.track, checks: s.checks.track }))
    const v = decide({
      now,
      since: this.since,
      cfg: this.cfg,
      active: p.active,
      evidence: { ping: p.ping.track, checksOk: this.checksOk(p), sshOk: p.ssh.track.reply },
      survivors,
    })
    const prev = this.state
    this.verdict = v
    this.state = v.state
    if (v.state !== prev) {
      if (v.state === 'ok' && prev !== 'ok') this.emit('recovered', { node: p.active, after: prev })
      if (v.state === 'suspect') this.emit('suspect', { node: p.active, how: v.how, detail: v.reason })
      if (v.state === 'vetoed') {
        this.emit('vetoed', { node: p.active, how: v.how, by: v.vetoedBy, detail: v.reason })
        this.o.metrics?.inc('hapair_watch_vetoes_total', { pair: this.pair.name })
      }
      if (v.state === 'no-quorum') this.emit('no-quorum', { node: p.active, how: v.how, detail: v.reason })
    }
    if (v.state === 'confirmed' && prev !== 'confirmed') void this.onConfirmed(p, v)
    if (v.state === 'ok') this.serviceHealth(p, now)
  }

  private publish(p: Probes, v: WatchVerdict, now: number): void {
    const m = this.o.metrics
    if (!m) return
    for (const s of ['ok', 'suspect', 'vetoed', 'no-quorum', 'confirmed'])
      m.set('hapair_watch_state', { pair: this.pair.name, state: s }, s === v.state ? 1 : 0)
    const t = p.ping.track
    m.set('hapair_watch_echo_age_ms', { pair: this.pair.name, node: p.active }, t.reply ? now - t.reply : NaN)
    if (t.rttMs !== undefined) m.set('hapair_watch_echo_rtt_ms', { pair: this.pair.name, node: p.active }, t.rttMs)
    for (const s of p.survivors)
      if (s.view.track.rttMs !== undefined)
        m.set('hapair_watch_survivor_echo_rtt_ms', { pair: this.pair.name, node: s.node.name, of: p.active }, s.view.track.rttMs)
    m.set('hapair_watch_paused', { pair: this.pair.name }, inForce(this.paused) ? 1 : 0)
  }

  /** Why an automatic action may not happen now (undefined: it may). */
  private gate(now: number): { event: EventName; detail: string } | undefined {
    if (inForce(this.paused, now))
      return { event: 'paused', detail: `paused by ${this.paused!.by}${this.paused!.until ? ` until ${this.paused!.until}` : ''}: no automatic action` }
    if (now < this.holdDownUntil)
      return { event: 'held-down', detail: `hold-down after the last takeover for another ${this.holdDownUntil - now} ms: no automatic takeover` }
    this.takeovers = this.takeovers.filter((t) => now - t < 3_600_000)
    if (this.takeovers.length >= this.cfg.maxTakeoversPerHour)
      return {
        event: 'capped',
        detail: `${this.takeovers.length} automatic takeover(s) in the last hour (maxTakeoversPerHour ${this.cfg.maxTakeoversPerHour}): alert only`,
      }
    if (!this.fence)
      return {
        event: 'unfenced',
        detail: `pair ${this.pair.name} has no fencing driver and no lease guard: the old active cannot be made safe, so no automatic takeover (alert only)`,
      }
    return undefined
  }

  private async onConfirmed(p: Probes, v: WatchVerdict): Promise<void> {
    const now = Date.now()
    this.emit('confirmed', {
      node: p.active,
      how: v.how,
      agree: v.agree,
      detail: v.reason,
      sinceFaultMs: p.ping.track.reply ? now - p.ping.track.reply : undefined,
    })
    const g = this.gate(now)
    if (g) {
      this.emit(g.event, { node: p.active, detail: g.detail })
      return
    }
    const target = v.agree.includes(this.pair.primary) ? this.pair.primary : v.agree[0]
    await this.takeover(p.active, target, `${v.how}: ${v.reason}`)
  }

  /** failover.ts's run, with what the vote established: the old active need not be asked again. */
  private async takeover(from: string, to: string, why: string, opts: { planned?: boolean; resume?: boolean } = {}): Promise<FailoverResult | undefined> {
    if (this.acting) return undefined
    this.acting = true
    const t0 = Date.now()
    try {
      if (!opts.planned) this.pool.session(this.pair, from).markUnreachable(why)
      // A lease left on the target from an earlier term would make its guard step down at once.
      if (isLease(this.fence))
        await this.pool
          .session(this.pair, to)
          .run({ script: sh`rm -f ${stateDir(this.pair)}/lease` }, { timeoutMs: 2000 })
          .catch(() => undefined)
      this.emit('takeover-started', { from, to, why, ...(opts.resume ? { resume: true } : {}) })
      const r = await runFailover(this.inv, this.pool, this.pair, {
        operation: 'failover',
        to,
        postCheckTimeoutMs: this.o.postCheckTimeoutMs ?? 10_000,
        seenEpoch: this.epoch,
      })
      const ms = Date.now() - t0
      if (r.ok && r.noop) {
        this.emit('takeover-skipped', { from, to, detail: `${to} is already active (another watcher or an operator did it)`, tookMs: ms })
        this.o.metrics?.inc('hapair_watch_takeovers_total', { pair: this.pair.name, result: 'skipped' })
      } else if (r.ok) {
        this.takeovers.push(Date.now())
        this.holdDownUntil = Date.now() + this.cfg.holdDownMs
        // The fenced old primary has a timeline of its own: it rejoins as a standby once it
        // answers, even if no re-read happened to see it away (a reboot shorter than REFRESH_MS).
        if (pgService(this.pair)) this.toRejoin.add(from)
        // What the follower (sync --follow) had not yet confirmed on the new active node.
        const left = await readInflight(this.pool, this.pair, to).catch(() => undefined)
        const inflight =
          left && !('bad' in left) && left.count
            ? { count: left.count, first: left.paths.slice(0, 5).map((p) => p.path), file: `${to}:${stateDir(this.pair)}/inflight.json` }
            : undefined
        this.emit('takeover-done', {
          from,
          to,
          epoch: r.epoch,
          tookMs: ms,
          rtoMs: r.rtoMs,
          steps: r.steps.map((s) => ({ name: s.name, ms: s.ms, ok: s.ok })),
          warnings: r.warnings,
          ...(inflight ? { inflight } : {}),
        })
        this.o.metrics?.inc('hapair_watch_takeovers_total', { pair: this.pair.name, result: 'done' })
      } else {
        this.emit('takeover-failed', { from, to, error: r.error, tookMs: ms, warnings: r.warnings })
        this.o.metrics?.inc('hapair_watch_takeovers_total', { pair: this.pair.name, result: 'failed' })
      }
      if (r.ok) {
        this.active = r.active
        this.epoch = r.epoch
      }
      return r
    } catch (e) {
      const err = e as Error
      const locked = e instanceof RefusedError && /lock/i.test(err.message)
      this.emit(locked ? 'takeover-skipped' : 'takeover-failed', { from, to, error: err.message, tookMs: Date.now() - t0 })
      this.o.metrics?.inc('hapair_watch_takeovers_total', { pair: this.pair.name, result: locked ? 'skipped' : 'failed' })
      return undefined
    } finally {
      this.acting = false
      if (!this.stopped) {
        await this.refresh(true)
        this.arm(this.active)
      }
    }
  }

  /** A failing service on a live active node: the pair's policy. */
  private serviceHealth(p: Probes, now: number): void {
    if (this.acting) return
    for (const [k, st] of p.vips.state) {
      const failing =
        st.lastFail !== undefined &&
        (st.lastOk === undefined || st.lastFail > st.lastOk) &&
        now - Math.max(st.lastOk ?? st.since, this.since) > this.cfg.serviceFailAfterMs
      const id = `vip:${k}`
      if (failing && !this.reported.has(id)) {
        this.reported.add(id)
        this.emit('vip-unserved', {
          node: p.active,
          check: k.slice(4),
          detail: `${st.detail ?? 'no answer'}: clients do not reach ${p.active} through it (the node itself answers); \`failover.ts --to ${p.active} --yes\` converges the address`,
        })
      } else if (!failing && st.lastOk !== undefined && st.lastOk > (st.lastFail ?? 0)) this.reported.delete(id)
    }
    for (const { name: id, keys } of p.serviceKeys) {
      if (!keys.length) continue
      const failing = keys.some((k) => {
        const s = p.checks.state.get(k)!
        return s.lastFail !== undefined && (s.lastOk === undefined || s.lastFail > s.lastOk)
      })
      if (!failing) {
        if (this.failingSince.has(id) && this.reported.has(`svc:${id}`)) this.emit('service-recovered', { node: p.active, service: id })
        this.failingSince.delete(id)
        this.reported.delete(`svc:${id}`)
        continue
      }
      const first = this.failingSince.get(id) ?? now
      this.failingSince.set(id, first)
      if (now - Math.max(first, this.since) < this.cfg.serviceFailAfterMs || this.reported.has(`svc:${id}`)) continue
      this.reported.add(`svc:${id}`)
      const detail = keys
        .map((k) => p.checks.state.get(k)!.detail)
        .filter(Boolean)
        .join('; ')
      void this.servicePolicy(p, id, detail)
    }
  }

  private async servicePolicy(p: Probes, service: string, detail: string): Promise<void> {
    const now = Date.now()
    const recent = (this.restarts.get(service) ?? []).filter((t) => now - t < 3_600_000)
    let action = this.cfg.onServiceFailure
    if (action === 'restart' && recent.length >= this.cfg.maxRestarts) action = 'failover'
    // Checks can fail on a bad network while the service runs: its own status command decides.
    const svc = this.pair.services!.find((s) => s.name === service)!
    const status = await this.pool
      .session(this.pair, p.active)
      .run({ script: svc.status }, { check: false, timeoutMs: 3000 })
      .catch(() => undefined)
    if (status?.ok) {
      this.emit('service-failed', {
        node: p.active,
        service,
        detail: `${detail}; but its status command says it runs: a network problem, not acted on`,
        policy: this.cfg.onServiceFailure,
        action: 'alert',
      })
      return
    }
    this.emit('service-failed', { node: p.active, service, detail, policy: this.cfg.onServiceFailure, action, restartsLastHour: recent.length })
    if (action === 'alert') return
    if (inForce(this.paused, now)) {
      this.emit('paused', { node: p.active, detail: `paused by ${this.paused!.by}: ${service} not acted on` })
      return
    }
    // A planned operation stops services on purpose: never fight it.
    const locked = await lockState(this.pool.session(this.pair, p.active), this.pair).catch(() => undefined)
    if (locked) {
      this.emit('takeover-skipped', { node: p.active, service, detail: locked })
      return
    }
    if (action === 'restart') {
      this.restarts.set(service, [...recent, now])
      try {
        await this.pool.session(this.pair, p.active).run({ script: svc.start })
        this.emit('service-restarted', { node: p.active, service, attempt: recent.length + 1, of: this.cfg.maxRestarts })
      } catch (e) {
        this.emit('service-failed', { node: p.active, service, detail: `restart failed: ${(e as Error).message}`, action: 'restart' })
      }
      this.reported.delete(`svc:${service}`)
      this.failingSince.delete(service)
      return
    }
    const g = this.gate(now)
    if (g) {
      this.emit(g.event, { node: p.active, detail: g.detail })
      return
    }
    const target = this.pair.nodes.find((n) => n.name !== p.active)!.name
    await this.takeover(p.active, target, `service ${service} failed on ${p.active}: ${detail}`, { planned: true })
  }

  /** Re-reads the records (someone else may have switched), the pause and the lease state. */
  async refresh(force: boolean): Promise<void> {
    if (this.refreshing || (!force && this.acting)) return
    this.refreshing = true
    try {
      // One command per node for all three (refresh.ts): they were most of a many-pair watcher's CPU.
      const { view, pause, left } = await readWatchState(this.pool, this.pair, { timeoutMs: 2000 })
      this.lastRefresh = Date.now()
      const wasPaused = inForce(this.paused)
      this.paused = pause
      const isPaused = inForce(pause)
      if (isPaused !== wasPaused && this.probes) this.emit(isPaused ? 'paused' : 'resumed', { by: pause?.by, until: pause?.until, reason: pause?.reason })
      if (left && !isPaused && !this.acting && this.probes && !this.stopped) {
        const j = left.journal
        void this.takeover(
          j.from,
          j.to,
          `finishing an interrupted ${j.operation} ${j.from} -> ${j.to} (epoch ${j.epoch}) whose run died; its lock on ${left.node} is stale`,
          { planned: true, resume: true },
        )
        return
      }
      // After the rest of this re-read (synchronous from here on) has settled who is active.
      if (pgService(this.pair)) setImmediate(() => this.noteReturns(view.unreachable, isPaused))
      if (Object.keys(view.unreachable).length === this.pair.nodes.length) return
      // Only a newer epoch moves the watcher: a record at the epoch it already holds that names
      // another node is a stale one (written before a takeover it did not see), and believing it
      // left a dead active node unwatched.
      if (view.epoch < this.epoch || (view.epoch === this.epoch && view.active !== this.active && this.probes)) return
      this.epoch = view.epoch
      if (view.active !== this.active) {
        const from = this.active
        this.active = view.active
        if (this.probes && !this.acting) {
          this.emit('active-changed', {
            from,
            to: view.active,
            epoch: view.epoch,
            detail: 'the records name another active node (a planned failover, or another watcher)',
          })
          this.arm(view.active)
        }
      }
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e
    } finally {
      this.refreshing = false
    }
  }

  /**
   * PostgreSQL: an old primary that comes back after a takeover has its server stopped (nothing
   * starts it at boot) and a timeline of its own. The watcher makes it a streaming standby of the
   * live primary (rejoin-pair.ts: under the pair's lock, pg_rewind or a fresh base backup), so
   * the pair is redundant again without a person; never while a takeover runs or the pair is
   * paused. A refused or failed rejoin is retried every 30 s and says why each time.
   */
  private noteReturns(unreachable: Record<string, string>, paused: boolean): void {
    for (const n of this.pair.nodes) {
      if (unreachable[n.name]) this.away.add(n.name)
      else if (this.away.delete(n.name)) this.toRejoin.add(n.name)
    }
    const due = [...this.toRejoin].filter((n) => n !== this.active && !unreachable[n])
    if (!due.length || paused || this.acting || this.rejoining || this.stopped || Date.now() < this.rejoinAfter) return
    void this.rejoin(due)
  }

  private async rejoin(nodes: string[]): Promise<void> {
    this.rejoining = true
    const t0 = Date.now()
    this.emit('pg-rejoin-started', { nodes, primary: this.active })
    try {
      const lines = await rejoinPair(this.inv, this.pool, this.pair)
      for (const n of nodes) this.toRejoin.delete(n)
      this.emit('pg-rejoined', { nodes, primary: this.active, tookMs: Date.now() - t0, detail: lines })
    } catch (e) {
      this.rejoinAfter = Date.now() + 30_000
      this.emit('pg-rejoin-failed', { nodes, primary: this.active, tookMs: Date.now() - t0, error: (e as Error).message, retryInMs: 30_000 })
    } finally {
      this.rejoining = false
    }
  }

  private async renewLease(): Promise<void> {
    const f = this.fence
    if (!isLease(f) || this.acting || this.stopped || this.renewing) return
    this.renewing = true
    try {
      // Paused for maintenance: nobody renews, so the guard must not count on renewals.
      if (inForce(this.paused)) {
        if (!this.disarmed && f.disarm) {
          await f.disarm(this.node(this.active))
          this.disarmed = true
          this.emit('paused', { node: this.active, detail: 'lease disarmed: the guard holds still while the pair is paused' })
        }
        return
      }
      this.disarmed = false
      // Held while the active misses echoes: every renewal issued, delivered or not, pushes back
      // the deadline a takeover must wait for, and one issued after the active was cut off buys
      // nothing. A healthy active loses nothing: the lease outlasts several held renewals, and
      // renewals resume with the next answer.
      const p = this.probes
      if (p && p.active === this.active && Date.now() - (p.ping.track.reply ?? Date.now()) > RENEW_HOLD_INTERVALS * this.cfg.intervalMs) return
      await f.renew(this.node(this.active), this.epoch)
      if (this.leaseFailing) this.emit('recovered', { node: this.active, detail: 'lease renewed again' })
      this.leaseFailing = false
    } catch (e) {
      if (!this.leaseFailing) this.emit('lease-renew-failed', { node: this.active, detail: (e as Error).message })
      this.leaseFailing = true
    } finally {
      this.renewing = false
    }
  }
}
