// Continuous sync: the active node's rsync items are watched on the node (inotifywait, streamed
// over the pinned SSH connection) and each changed path goes to every other node in small
// batches, over the same node-to-node rsync as a full sync (ship.ts). A full catch-up pass
// (runSync, with every rule of sync) comes first, and again for an item whose events were
// lost (overflow) or a target that was away without an exact list of what it missed.
//
// Safety is the full sync's: the follower holds a sync lease on every node (lease.ts) and every
// batch runs through the fence on the source node, so a failover's stopSyncs ends it; each
// target's record is checked before each batch, so a promoted node never receives from the old
// one; after losing the source the follower starts over from the records (observe), and so
// follows the new active node. The in-flight list (inflight.ts) says, per target, what it lacks.
import os from 'node:os'
import { HapairError, InputError, RefusedError, RemoteError } from '../../errors.ts'
import { findNode, stateDir, type LoadedInventory } from '../../inventory/load.ts'
import type { Pair, SyncItem } from '../../inventory/schema.ts'
import { observe, problemsMessage } from '../../observe.ts'
import type { SshPool } from '../../ssh.ts'
import { readNodeState, type DegradedRecord } from '../../state.ts'
import { deleteLimit } from '../delete-guard.ts'
import { itemInsideProtected, itemScope, type ItemScope } from '../filters.ts'
import { guardLock, runSync } from '../index.ts'
import { SyncStopped, takeFence, type Fence } from '../lease.ts'
import { buildPlan, selectItems, type NodeFacts } from '../plan.ts'
import { recorder } from '../records.ts'
import { hopProblems } from '../rsync.ts'
import { leasesDir } from '../stop.ts'
import type { ItemResult } from '../types.ts'
import { probeNode } from '../versions.ts'
import { display, type WatchEvent } from './events.ts'
import { InFlight, INFLIGHT_FILE, inflightRecord, readInflight, writeInflight, type Batch } from './inflight.ts'
import type { FollowNumbers, TargetNumbers } from './metrics.ts'
import { shipBatch } from './ship.ts'
import { startWatcher, NO_INOTIFYWAIT, type Watcher } from './watch.ts'

export { readInflight, describeInflight, type InflightRecord } from './inflight.ts'

export interface FollowOptions {
  items?: string[]
  /** How long changes gather before a batch ships (ms); default 150. */
  batchMs?: number
  /** rsync's --timeout for a batch: a target silent this long is lost (s); default 10. */
  ioTimeoutSec?: number
  /** A created file waits this long for its close before it ships anyway (ms); default 1000. */
  holdOpenMs?: number
  /** A lost target, a refused start, a lost source: tried again after this long (ms); default 2000. */
  retryMs?: number
  /** The source is asked this often when nothing else showed it alive (ms); default 1000. */
  heartbeatMs?: number
  /** The in-flight list is written to the targets at most this often (ms); default 500. */
  inflightWriteMs?: number
  /** Versions are read again this often, so a gate that opens or closes is followed (ms); default 15000. */
  versionCheckMs?: number
  /** An item that cannot be watched gets a full pass this often (ms); default 10000. */
  pollMs?: number
  /**
   * Every item gets a full pass this often anyway (ms; default 600000, 0: never): inotifywait
   * swallows the kernel's overflow notice, so events dropped by a full queue are found here.
   */
  fullEveryMs?: number
  /** Mirror deletions over the item's limit go ahead. */
  force?: boolean
  /** Batches share one hop connection per target (ssh ControlMaster on the source); default true. */
  mux?: boolean
  /** One event per line; default: JSON on stdout. */
  event?: (e: FollowEvent) => void
  log?: (line: string) => void
}

export interface FollowEvent {
  at: string
  pair: string
  event: string
  [k: string]: unknown
}

type End = 'stopped' | 'failover' | 'source-lost' | 'refused'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.())
const by = () => `${os.userInfo().username}@${os.hostname()} pid ${process.pid}`

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new HapairError(`${what}: no answer in ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(t))
}

/** Resolves waiters on notify(), or after their own timeout. */
class Wake {
  private waiters = new Set<() => void>()
  notify(): void {
    const w = [...this.waiters]
    this.waiters.clear()
    for (const f of w) f()
  }
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiters.add(done)
    })
  }
}

interface Counters {
  bytes: number
  files: number
  deleted: number
  batches: number
  fullPasses: number
}

export class Follower {
  readonly done: Promise<void>
  private stopping = false
  private session?: Session
  private lastSource?: string
  private counters = new Map<string, Counters>()
  private totals = { events: 0, overflows: 0 }
  private stopWake = new Wake()

  constructor(
    readonly inv: LoadedInventory,
    readonly pair: Pair,
    readonly pool: SshPool,
    readonly o: FollowOptions = {},
  ) {
    this.done = this.main()
  }

  emit(event: string, fields: Record<string, unknown> = {}): void {
    const e: FollowEvent = { at: new Date().toISOString(), pair: this.pair.name, event, ...fields }
    if (this.o.event) this.o.event(e)
    else process.stdout.write(JSON.stringify(e) + '\n')
  }

  countersOf(t: string): Counters {
    let c = this.counters.get(t)
    if (!c) this.counters.set(t, (c = { bytes: 0, files: 0, deleted: 0, batches: 0, fullPasses: 0 }))
    return c
  }

  tally(kind: 'events' | 'overflows'): void {
    this.totals[kind]++
  }

  /** The active node being followed now, and the tracker (for tests and the lead's tools). */
  get current(): { source: string; epoch: number; tracker: InFlight; watchers: Watcher[] } | undefined {
    const s = this.session
    return s?.tracker ? { source: s.source, epoch: s.epoch, tracker: s.tracker, watchers: [...s.watchers.values()] } : undefined
  }

  numbers(): FollowNumbers {
    const s = this.session
    const now = Date.now()
    const targets: TargetNumbers[] = this.pair.nodes
      .map((n) => n.name)
      .filter((n) => n !== (s?.source ?? this.lastSource))
      .map((t) => {
        const c = this.countersOf(t)
        return {
          target: t,
          lagSeconds: s?.tracker?.lagSeconds(t, now) ?? 0,
          pendingPaths: s?.tracker?.count(t) ?? 0,
          up: !!s?.tracker && !s.lost.has(t),
          bytesShipped: c.bytes,
          filesShipped: c.files,
          filesDeleted: c.deleted,
          batches: c.batches,
          fullPasses: c.fullPasses,
        }
      })
    return { pair: this.pair.name, source: s?.source ?? this.lastSource ?? '', events: this.totals.events, overflows: this.totals.overflows, targets }
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.stopWake.notify()
    this.session?.end('stopped')
    await this.done
  }

  private async main(): Promise<void> {
    let lastRefusal = ''
    while (!this.stopping) {
      const s = new Session(this)
      this.session = s
      let end: End = 'refused'
      try {
        end = await s.run()
        lastRefusal = ''
      } catch (e) {
        if (!(e instanceof HapairError)) {
          this.emit('error', { reason: `internal error: ${(e as Error)?.stack ?? e}` })
          throw e
        }
        if (e instanceof InputError) {
          this.emit('stopped', { reason: e.message })
          throw e
        }
        // Said once per distinct reason, not every retry.
        if (e.message !== lastRefusal) this.emit(e instanceof RefusedError ? 'waiting' : 'error', { reason: e.message, retryMs: this.o.retryMs ?? 2000 })
        lastRefusal = e.message
      } finally {
        await s.cleanup()
      }
      if (s.source && s.tracker) this.lastSource = s.source
      if (end === 'stopped' || this.stopping) break
      await this.stopWake.wait(this.o.retryMs ?? 2000)
    }
    this.emit('stopped', { reason: 'asked to stop' })
  }

  /** Said at the start of a session that follows another node than the last one. */
  async takeover(from: string, to: string, epoch: number): Promise<void> {
    const rec = await readInflight(this.pool, this.pair, to).catch(() => undefined)
    const inflight =
      rec && !('bad' in rec) && rec.source === from
        ? {
            count: rec.count,
            first: rec.paths.slice(0, 10).map((p) => p.path),
            incomplete: rec.incomplete,
            at: rec.at,
            file: `${to}:${stateDir(this.pair)}/${INFLIGHT_FILE}`,
          }
        : rec && 'bad' in rec
          ? { error: rec.bad }
          : { count: 0, note: `${to} holds no in-flight list from ${from}` }
    this.emit('takeover', { from, to, epoch, inflight })
  }

  get previousSource(): string | undefined {
    return this.lastSource
  }
  get isStopping(): boolean {
    return this.stopping
  }
}

/** One active node followed, from the records read at its start until it is lost, stopped or taken over. */
class Session {
  source = ''
  epoch = 0
  tracker?: InFlight
  fence?: Fence
  readonly watchers = new Map<string, Watcher>()
  readonly lost = new Map<string, { since: number; reason: string; seq: number }>()
  private returning = new Map<string, { since: number; seq: number }>()
  /** Per target: its last degraded/caught-up transition (mark written, then event). */
  private marks = new Map<string, Promise<void>>()
  private targetFence = new Map<string, Fence>()
  private extraFences: Fence[] = []
  private followed: SyncItem[] = []
  private scopes = new Map<string, ItemScope>()
  /** Per target, items the version policy lets through. */
  private allowed = new Map<string, Set<string>>()
  private itemFiles = new Map<string, number>()
  private polled = new Set<string>()
  private wakes = new Map<string, Wake>()
  private accumStart = new Map<string, number>()
  private retryAt = new Map<string, number>()
  private refusedAt = new Map<string, number>()
  private written = new Map<string, string>()
  private writing = new Map<string, Promise<void>>()
  private timers: NodeJS.Timeout[] = []
  private endReason?: End
  private ended!: Promise<End>
  private resolveEnd!: (e: End) => void
  private workers: Promise<void>[] = []
  private lastSourceOk = 0
  private targets: string[] = []

  constructor(private readonly f: Follower) {
    this.ended = new Promise((r) => {
      this.resolveEnd = r
    })
  }

  private get o() {
    return this.f.o
  }
  private get pair() {
    return this.f.pair
  }
  private get pool() {
    return this.f.pool
  }
  private src() {
    return this.pool.session(this.pair, this.source)
  }
  private wake(t: string) {
    let w = this.wakes.get(t)
    if (!w) this.wakes.set(t, (w = new Wake()))
    return w
  }
  get over(): boolean {
    return this.endReason !== undefined
  }

  end(reason: End): void {
    if (this.endReason) return
    this.endReason = reason
    for (const w of this.wakes.values()) w.notify()
    this.resolveEnd(reason)
  }

  async run(): Promise<End> {
    const { pair, pool } = this
    const selected = selectItems(pair, this.o.items)
    if (!selected.length) throw new InputError(`pair ${pair.name} has no sync items`)
    this.followed = selected.filter((i) => (i.transport ?? 'rsync') === 'rsync' && !itemInsideProtected(pair, i))
    if (this.followed.length) {
      const bad = hopProblems({ keyFile: pair.sync?.nodeKeyFile, knownHostsFile: pair.sync?.nodeKnownHostsFile })
      if (bad.length) throw new InputError(`pair ${pair.name}: ${bad.join('; ')}`, bad)
    }
    for (const i of this.followed) this.scopes.set(i.name, itemScope(pair, i))

    const obs = await observe(this.f.inv, pool, pair)
    if (obs.problems.length) throw new RefusedError(problemsMessage(obs))
    const view = obs.view
    this.source = view.active
    this.epoch = view.epoch
    if (view.unreachable[this.source])
      throw new RemoteError(`the active node cannot be reached, so nothing can be followed: ${view.unreachable[this.source]}`, {
        node: this.source,
        host: findNode(pair, this.source).address,
        unreachable: true,
      })
    const prev = this.f.previousSource
    if (prev && prev !== this.source) await this.f.takeover(prev, this.source, this.epoch)
    this.targets = pair.nodes.map((n) => n.name).filter((n) => n !== this.source)
    const reachable = this.targets.filter((t) => !view.unreachable[t])

    const { fence, seen, epochs } = await takeFence(pool, pair, [this.source, ...reachable])
    this.fence = fence
    guardLock(pair, seen)
    if (epochs[this.source] === undefined)
      throw new RemoteError('could not take the sync lease on the active node', {
        node: this.source,
        host: findNode(pair, this.source).address,
        unreachable: true,
      })
    const e = epochs[this.source] === 'none' ? 0 : Number(epochs[this.source])
    if (e > this.epoch) throw new SyncStopped(`a failover took the pair (epoch ${e} appeared while the follower started)`)
    for (const t of reachable) if (epochs[t] !== undefined) this.targetFence.set(t, fence)
    this.lastSourceOk = Date.now()

    const tracker = new InFlight(this.targets, { holdOpenMs: this.o.holdOpenMs })
    this.tracker = tracker
    for (const t of this.targets) {
      tracker.needFull(
        t,
        this.followed.map((i) => i.name),
      )
      this.allowed.set(t, new Set())
    }
    const unfollowed = selected
      .filter((i) => !this.followed.includes(i))
      .map(
        (i) => `${i.name} (${itemInsideProtected(pair, i) ? 'inside a protected path' : `transport ${i.transport}: synced in each full pass, not followed`})`,
      )
    this.f.emit('start', {
      source: this.source,
      epoch: this.epoch,
      targets: this.targets,
      items: this.followed.map((i) => i.name),
      ...(unfollowed.length ? { notFollowed: unfollowed } : {}),
    })

    // Watches first, then the catch-up pass: a change made during the pass is in both.
    await Promise.all(this.followed.map((i) => this.watch(i)))
    if (this.over) return this.endReason!
    await this.catchUp(selected)
    if (this.over) return this.endReason!
    this.f.emit('following', {
      source: this.source,
      targets: Object.fromEntries(this.targets.map((t) => [t, this.lost.has(t) ? `lost: ${this.lost.get(t)!.reason}` : 'in sync'])),
    })

    for (const t of this.targets) this.workers.push(this.worker(t))
    const every = (ms: number, fn: () => Promise<void> | void) => {
      let busy = false
      const h = setInterval(() => {
        if (busy || this.over) return
        busy = true
        void Promise.resolve(fn())
          .catch(() => {})
          .finally(() => {
            busy = false
          })
      }, ms)
      this.timers.push(h)
    }
    every(this.o.heartbeatMs ?? 1000, () => this.heartbeat())
    every(this.o.inflightWriteMs ?? 500, () => this.writeAll(false))
    every(this.o.versionCheckMs ?? 15_000, () => this.checkVersions())
    every(this.o.pollMs ?? 10_000, () => this.poll())
    every(30_000, () => this.recordTimes())
    const fullEvery = this.o.fullEveryMs ?? 600_000
    if (fullEvery > 0) every(fullEvery, () => this.safetyPass(selected))
    return this.ended
  }

  async cleanup(): Promise<void> {
    this.end(this.endReason ?? 'refused')
    for (const h of this.timers) clearInterval(h)
    for (const w of this.watchers.values()) w.stop()
    if (this.tracker) {
      // The last word on what each target lacks, even when the source is gone: the targets are written to directly.
      // A batch still running is not confirmed, so its paths are in it.
      await this.writeAll(true)
      if (this.endReason === 'source-lost') {
        const pending = Object.fromEntries(this.targets.map((t) => [t, this.tracker!.count(t)]))
        this.f.emit('source-lost', { source: this.source, inflight: pending })
        // A command still waiting on the dead link would hold the session for the whole keepalive period.
        this.src().close()
      }
    }
    await Promise.all(this.workers)
    await Promise.all([this.fence, ...this.extraFences].map((fe) => fe && withTimeout(fe.end(), 5000, 'ending the lease').catch(() => undefined)))
  }

  // --- watching -----------------------------------------------------------------------------

  private async watch(item: SyncItem): Promise<void> {
    const dir = `${leasesDir(this.pair)}/${this.fence!.id}`
    let w: Watcher
    try {
      w = await startWatcher(this.src(), item, dir, { event: (e) => this.onEvent(item, e), trouble: (why) => this.overflow(item, why) })
      await withTimeout(w.ready, 120_000, `watching ${item.path}`)
    } catch (e) {
      if (e instanceof RemoteError) {
        this.end('source-lost')
        return
      }
      if (!this.polled.has(item.name))
        this.f.emit('fallback', {
          item: item.name,
          reason: (e as Error).message,
          action: `a full pass every ${(this.o.pollMs ?? 10_000) / 1000} s until it can be watched`,
        })
      this.polled.add(item.name)
      return
    }
    this.polled.delete(item.name)
    this.watchers.set(item.name, w)
    w.done.then(
      (r) => this.watcherEnded(item, w, r.code === NO_INOTIFYWAIT ? 'inotifywait is not installed' : `exit ${r.code ?? r.signal}`),
      () => this.watcherEnded(item, w, undefined),
    )
  }

  private async watcherEnded(item: SyncItem, w: Watcher, how: string | undefined): Promise<void> {
    if (this.over || this.watchers.get(item.name) !== w) return
    this.watchers.delete(item.name)
    if (how === undefined) {
      this.end('source-lost')
      return
    }
    // Its lease ended (a failover) or the node is gone: either ends the session.
    if (!(await this.checkSource())) return
    this.f.emit('watcher-restart', { item: item.name, reason: `the watcher ended (${how})`, action: 'full pass' })
    for (const t of this.targets) this.tracker!.needFull(t, [item.name])
    this.notifyAll()
    await sleep(1000)
    if (!this.over) await this.watch(item)
  }

  private onEvent(item: SyncItem, e: WatchEvent): void {
    if (this.over) return
    const tracker = this.tracker!
    if (e.kind === 'overflow' || e.kind === 'root-gone') return this.overflow(item, e.why)
    // Never shipped, never owed: protected, excluded and scratch paths.
    if (this.scopes.get(item.name)!.skips(display(e.rel), e.dir)) return
    this.f.tally('events')
    const now = Date.now()
    tracker.note(item.name, e.rel, e.change, e.dir, now)
    for (const t of this.targets) if (!this.accumStart.has(t)) this.accumStart.set(t, now)
    this.notifyAll()
  }

  private overflow(item: SyncItem, why: string): void {
    this.f.tally('overflows')
    this.f.emit('overflow', { item: item.name, reason: why, action: 'full pass of the item' })
    for (const t of this.targets) this.tracker!.needFull(t, [item.name])
    this.notifyAll()
  }

  private notifyAll(): void {
    for (const t of this.targets) this.wake(t).notify()
  }

  // --- full passes --------------------------------------------------------------------------

  private async catchUp(selected: SyncItem[]): Promise<void> {
    const seq = this.tracker!.lastSeq
    const rep = await this.full(
      selected.map((i) => i.name),
      undefined,
    )
    if (!rep) return
    for (const t of this.targets) {
      const mine = rep.filter((r) => r.target === t)
      this.applyFull(t, mine, seq)
    }
  }

  /** runSync over items (all targets, or one): its results, or undefined when the session ended. */
  private async full(items: string[], to: string | undefined): Promise<ItemResult[] | undefined> {
    try {
      const rep = await runSync(this.f.inv, this.pair, this.pool, { items, to, ioTimeoutSec: this.o.ioTimeoutSec ?? 10, force: this.o.force, log: this.o.log })
      for (const t of to ? [to] : this.targets) this.f.countersOf(t).fullPasses++
      if (rep.source !== this.source) {
        this.end('failover')
        return undefined
      }
      for (const r of rep.results) {
        const c = this.f.countersOf(r.target)
        c.bytes += r.bytes
        c.files += r.sent
        c.deleted += r.deleted
      }
      this.f.emit('full-pass', {
        target: to ?? 'all',
        items,
        ms: rep.ms,
        exitCode: rep.exitCode,
        results: rep.results.map((r) => `${r.item}>${r.target}: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}`),
      })
      return rep.results
    } catch (e) {
      if (e instanceof SyncStopped) {
        this.end('failover')
        return undefined
      }
      if (e instanceof RefusedError) {
        this.f.emit('waiting', { reason: e.message })
        this.end('refused')
        return undefined
      }
      if (e instanceof RemoteError && e.node === this.source) {
        this.end('source-lost')
        return undefined
      }
      throw e
    }
  }

  private applyFull(t: string, results: ItemResult[], seq: number): void {
    const tracker = this.tracker!
    const followed = new Set(this.followed.map((i) => i.name))
    let lostWhy: string | undefined
    for (const r of results) {
      if (!followed.has(r.item)) continue
      if (r.outcome === 'ok' || r.outcome === 'refused') {
        tracker.fullDone(t, [r.item], seq)
        this.allowed.get(t)!.add(r.item)
        this.itemFiles.set(r.item, r.files)
        if (r.outcome === 'refused') this.f.emit('delete-refused', { target: t, item: r.item, reason: r.reason })
      } else if (r.outcome === 'skipped') {
        tracker.fullDone(t, [r.item], Infinity)
        this.allowed.get(t)!.delete(r.item)
        this.f.emit('gated', { target: t, item: r.item, reason: r.reason })
      } else if (r.link || r.outcome === 'pending') {
        lostWhy ??= r.reason ?? 'not reached'
      } else {
        this.retryAt.set(t, Date.now() + (this.o.retryMs ?? 2000))
        this.f.emit('error', { target: t, item: r.item, reason: r.reason })
      }
    }
    if (lostWhy) this.markLost(t, lostWhy, false)
    else if (!this.lost.has(t) || results.some((r) => r.outcome === 'ok')) this.returned(t)
  }

  // --- per target ---------------------------------------------------------------------------

  private async worker(t: string): Promise<void> {
    const tracker = this.tracker!
    const batchMs = this.o.batchMs ?? 150
    const retryMs = this.o.retryMs ?? 2000
    while (!this.over) {
      const wait = (this.retryAt.get(t) ?? 0) - Date.now()
      if (wait > 0) {
        await this.wake(t).wait(wait)
        if (Date.now() < (this.retryAt.get(t) ?? 0)) continue
      }
      if (this.over) break
      try {
        if (this.lost.has(t) || !this.targetFence.has(t)) {
          if (!(await this.reach(t))) {
            this.retryAt.set(t, Date.now() + retryMs)
            continue
          }
        }
        const full = tracker.fullOwed(t)
        if (full.length) {
          const seq = tracker.lastSeq
          const r = await this.full(full, t)
          if (r) this.applyFull(t, r, seq)
          if (this.lost.has(t)) this.retryAt.set(t, Date.now() + retryMs)
          continue
        }
        const first = this.accumStart.get(t)
        if (first !== undefined && Date.now() - first < batchMs) {
          await sleep(batchMs - (Date.now() - first))
          continue
        }
        this.accumStart.delete(t)
        const batch = tracker.take(t, Date.now())
        if (batch.size === 0) {
          this.caughtUp(t)
          await this.wake(t).wait(tracker.nextOpenReady(t, Date.now()) ?? 5000)
          continue
        }
        await this.ship(t, batch)
        this.caughtUp(t)
      } catch (e) {
        if (e instanceof SyncStopped) {
          this.end('failover')
          break
        }
        if (e instanceof RemoteError && e.node === this.source) {
          this.end('source-lost')
          break
        }
        if (!(e instanceof HapairError)) throw e
        this.f.emit('error', { target: t, reason: e.message })
        this.retryAt.set(t, Date.now() + retryMs)
      }
    }
  }

  /** Whether t can be shipped to: it answers, its record does not name it active, and it holds the follower's lease (taken now if it was away at the start). */
  private async reach(t: string): Promise<boolean> {
    try {
      if (!this.targetFence.has(t)) {
        const { fence, seen, epochs } = await withTimeout(takeFence(this.pool, this.pair, [t]), 5000, `taking the lease on ${t}`)
        this.extraFences.push(fence)
        if (epochs[t] === undefined) return false
        guardLock(this.pair, seen)
        const e = epochs[t] === 'none' ? 0 : Number(epochs[t])
        if (e > this.epoch) {
          this.end('failover')
          return false
        }
        this.targetFence.set(t, fence)
      }
      await withTimeout(this.targetFence.get(t)!.check(t), 3000, `asking ${t}`)
      return true
    } catch (e) {
      if (e instanceof SyncStopped) {
        this.end('failover')
        return false
      }
      if (e instanceof RefusedError) {
        this.end('refused')
        return false
      }
      if (!(e instanceof HapairError)) throw e
      this.markLost(t, e.message, true)
      return false
    }
  }

  private async ship(t: string, batch: Batch): Promise<void> {
    const tracker = this.tracker!
    // The target must still be a target: not locked by a failover, its epoch not moved.
    if (!(await this.reach(t))) {
      this.retryAt.set(t, Date.now() + (this.o.retryMs ?? 2000))
      return
    }
    for (const item of this.followed) {
      const entries = batch.byItem.get(item.name)
      if (!entries?.length) continue
      // Not meant to go: a version gate closed for this target, or a deletion of a non-mirror item.
      if (!this.allowed.get(t)!.has(item.name)) {
        tracker.confirm(batch, item.name)
        continue
      }
      if (!item.mirror) tracker.confirm(batch, item.name, (e) => e.change === 'gone')
      const holdDeletes = (this.refusedAt.get(`${t}\0${item.name}`) ?? 0) > Date.now() - 60_000
      const send = entries.filter((e) => (item.mirror ? !(holdDeletes && e.change === 'gone') : e.change !== 'gone'))
      if (!send.length) continue
      const r = await shipBatch({
        inv: this.f.inv,
        pair: this.pair,
        src: this.src(),
        target: findNode(this.pair, t),
        item,
        protect: this.scopes.get(item.name)!.protect,
        entries: send,
        ioTimeoutSec: this.o.ioTimeoutSec ?? 10,
        fence: this.fence!,
        mux: this.o.mux !== false,
        deletes: { limit: deleteLimit(this.pair, item), force: !!this.o.force, held: this.itemFiles.get(item.name) ?? 0 },
      })
      this.lastSourceOk = Date.now()
      if (!r.ok) {
        if (r.link) {
          this.markLost(t, r.reason ?? 'the link to the target failed', true)
          this.retryAt.set(t, Date.now() + (this.o.retryMs ?? 2000))
          return
        }
        this.f.emit('error', { target: t, item: item.name, reason: r.reason, paths: send.length })
        this.retryAt.set(t, Date.now() + (this.o.retryMs ?? 2000))
        return
      }
      const c = this.f.countersOf(t)
      c.bytes += r.bytes
      c.files += r.sent
      c.deleted += r.deleted
      c.batches++
      if (r.refused) {
        this.refusedAt.set(`${t}\0${item.name}`, Date.now())
        this.f.emit('delete-refused', {
          target: t,
          item: item.name,
          count: r.refused.count,
          limit: r.refused.limit,
          first: r.refused.paths.slice(0, 10),
          action: 'the rest of the batch was shipped; the deletions stay in flight (retried every 60 s; --force lifts the limit)',
        })
      }
      tracker.confirm(batch, item.name, (e) => !(e.change === 'gone' && (r.refused || holdDeletes)))
      this.o.log?.(`${item.name} -> ${t}: ${send.length} path(s), ${r.sent} sent, ${r.deleted} deleted, ${r.bytes} B, ${r.ms} ms`)
    }
    if (this.lost.has(t)) this.returned(t)
  }

  // --- degraded and caught up ---------------------------------------------------------------

  private markLost(t: string, reason: string, record: boolean): void {
    if (this.lost.has(t)) return
    this.returning.delete(t)
    this.lost.set(t, { since: Date.now(), reason, seq: this.tracker!.lastSeq })
    const first = this.tracker!.entries(t)
      .slice(0, 10)
      .map((e) => display(e.rel))
    const ev = { target: t, reason, pending: this.tracker!.count(t), first, fullPassOwed: this.tracker!.fullOwed(t) }
    this.transition(
      t,
      async () => {
        if (record) await this.record(t, 'pending', reason)
      },
      () => this.f.emit('degraded', ev),
    )
  }

  /**
   * A target's degraded/caught-up transitions, in order: the mark on the source is written
   * first, then the event, so whoever acts on the event (status, an alert) finds the mark.
   */
  private transition(t: string, write: () => Promise<void>, emit: () => void): void {
    const prev = this.marks.get(t) ?? Promise.resolve()
    this.marks.set(
      t,
      prev
        .then(write)
        .catch(() => {
          /* record() keeps its own errors */
        })
        .then(emit),
    )
  }

  private returned(t: string): void {
    const was = this.lost.get(t)
    if (!was) return
    this.lost.delete(t)
    this.returning.set(t, { since: was.since, seq: this.tracker!.lastSeq })
    this.wake(t).notify()
  }

  /** A target back from being lost has confirmed everything it owed when it came back. */
  private caughtUp(t: string): void {
    const r = this.returning.get(t)
    if (!r || this.lost.has(t)) return
    const tracker = this.tracker!
    if (tracker.fullOwed(t).length || tracker.entries(t).some((e) => e.seq <= r.seq)) return
    this.returning.delete(t)
    const ev = { target: t, downMs: Date.now() - r.since, pending: tracker.count(t) }
    this.transition(
      t,
      () => this.record(t, 'ok'),
      () => this.f.emit('caught-up', ev),
    )
  }

  /** The degraded mark on the source, as a full sync writes it (records.ts, degraded.ts). */
  private async record(t: string, outcome: 'ok' | 'pending', reason?: string): Promise<void> {
    const src = this.src()
    const rec = recorder(src, this.pair)
    try {
      const st = await readNodeState(src, this.pair)
      const at = new Date().toISOString()
      const results: ItemResult[] = this.followed
        .filter((i) => outcome === 'pending' || this.allowed.get(t)!.has(i.name))
        .map((i) => ({
          item: i.name,
          target: t,
          transport: 'rsync',
          priority: i.priority ?? 0,
          outcome,
          reason,
          link: outcome === 'pending' || undefined,
          files: 0,
          sent: 0,
          deleted: 0,
          unchanged: 0,
          bytes: 0,
          startedAt: at,
          ms: 0,
        }))
      ;(await rec.record({ degraded: st.degraded, sync: st.sync }, results, at)) as DegradedRecord | null
    } catch {
      /* the next transition writes it again; status reads the in-flight list meanwhile */
    } finally {
      rec.close()
    }
  }

  /** Sync times for targets that keep up, so status's "oldest sync" moves while following. */
  private async recordTimes(): Promise<void> {
    const ok = this.targets.filter(
      (t) => !this.lost.has(t) && !this.returning.has(t) && this.tracker!.lagSeconds(t, Date.now()) < 5 && !this.tracker!.fullOwed(t).length,
    )
    for (const t of ok) await this.record(t, 'ok')
  }

  // --- timers -------------------------------------------------------------------------------

  /** Fence check on the source: false (and the session ended) when it is lost or taken over. */
  private async checkSource(): Promise<boolean> {
    try {
      await withTimeout(this.fence!.check(this.source), 3000, `asking ${this.source}`)
      this.lastSourceOk = Date.now()
      return true
    } catch (e) {
      if (e instanceof SyncStopped) this.end('failover')
      else if (e instanceof HapairError) this.end('source-lost')
      else throw e
      return false
    }
  }

  private async heartbeat(): Promise<void> {
    if (Date.now() - this.lastSourceOk < (this.o.heartbeatMs ?? 1000)) return
    await this.checkSource()
  }

  private async writeAll(final: boolean): Promise<void> {
    const tracker = this.tracker
    if (!tracker) return
    await Promise.all(
      this.targets.map(async (t) => {
        const busy = this.writing.get(t)
        if (busy && !final) return
        await busy
        const sig = `${tracker.count(t)}:${tracker.lastSeq}:${tracker.fullOwed(t).join(',')}`
        if (!final && this.written.get(t) === sig) return
        const p = (async () => {
          const rec = inflightRecord(this.pair, tracker, { source: this.source, epoch: this.epoch, node: t, now: Date.now(), by: by() })
          await writeInflight(this.pool.session(this.pair, t), this.pair, rec, final ? 3000 : 5000)
          this.written.set(t, sig)
        })().catch(() => {
          /* unreachable now: written again when it answers */
        })
        this.writing.set(t, p)
        await p
        if (this.writing.get(t) === p) this.writing.delete(t)
      }),
    )
  }

  private async checkVersions(): Promise<void> {
    const reach = this.targets.filter((t) => !this.lost.has(t))
    const items = this.followed
    const facts = await Promise.all(
      [this.source, ...reach].map((n) =>
        probeNode(this.pool.session(this.pair, n), this.pair, items).then(
          (x) => x,
          () => undefined,
        ),
      ),
    )
    const [sf, ...tf] = facts
    if (!sf) return
    const r: Record<string, NodeFacts | { unreachable: string }> = {}
    reach.forEach((t, k) => {
      r[t] = tf[k] ?? { unreachable: 'no answer' }
    })
    for (const step of buildPlan({ pair: this.pair, items, targets: reach, source: sf, reach: r })) {
      if (step.action === 'pending') continue
      const set = this.allowed.get(step.target)!
      const open = step.action === 'sync'
      if (open && !set.has(step.item.name)) {
        this.f.emit('gate-open', { target: step.target, item: step.item.name, action: 'full pass' })
        this.tracker!.needFull(step.target, [step.item.name])
        this.wake(step.target).notify()
      } else if (!open && set.has(step.item.name)) {
        set.delete(step.item.name)
        this.f.emit('gated', { target: step.target, item: step.item.name, reason: step.reason })
      }
    }
  }

  /** A full pass beside the batches: whatever the watcher missed without a word arrives now. */
  private async safetyPass(selected: SyncItem[]): Promise<void> {
    const seq = this.tracker!.lastSeq
    const rep = await this.full(
      selected.map((i) => i.name),
      undefined,
    )
    if (!rep) return
    for (const t of this.targets)
      this.applyFull(
        t,
        rep.filter((r) => r.target === t),
        seq,
      )
  }

  private async poll(): Promise<void> {
    for (const name of this.polled) {
      const item = this.followed.find((i) => i.name === name)!
      for (const t of this.targets) this.tracker!.needFull(t, [name])
      this.notifyAll()
      await this.watch(item)
    }
  }
}

/** Follows one pair until stop(). */
export function startFollow(inv: LoadedInventory, pair: Pair, pool: SshPool, o: FollowOptions = {}): Follower {
  return new Follower(inv, pair, pool, o)
}
