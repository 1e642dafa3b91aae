// One sync run: guard the direction, probe versions, plan, pin the hop, move each item to each
// target in priority order, then record what arrived and what is still owed (degraded mode).
import { EXIT, HapairError, InputError, RefusedError, RemoteError } from '../errors.ts'
import { findNode, type LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { observe, problemsMessage } from '../observe.ts'
import type { ActiveView } from '../active.ts'
import { describeOwner, finishCommand, isStale, parseJournal, parseOwner, type HeldLock } from '../lock.ts'
import type { SshPool } from '../ssh.ts'
import { deliverTo, type DeliverContext } from './deliver.ts'
import { SyncStopped, takeFence, type Fence, type LockSeen } from './lease.ts'
import { recorder } from './records.ts'
import { buildPlan, selectItems, type NodeFacts, type Step } from './plan.ts'
import { hopProblems } from './rsync.ts'
import type { SyncProgress } from './progress.ts'
import type { ItemResult, SyncReport } from './types.ts'
import { probeNode } from './versions.ts'

export interface SyncOptions {
  items?: string[]
  /** Only this target. */
  to?: string
  /** The node the caller expects to be the source; refused unless it is the active node. */
  from?: string
  dryRun?: boolean
  /** Full copy of every item onto this (new or rebuilt) node. */
  bootstrap?: string
  /** Seconds without data moving before a target counts as lost; default 60. */
  ioTimeoutSec?: number
  now?: () => Date
  /** One line per phase with its time (the playbook's --verbose). */
  log?: (line: string) => void
  /** The caller holds the pair's operation lock itself (failback's sync-back); given the lock, the sync stops if it is lost. */
  lockHeld?: boolean | Pick<HeldLock, 'owner'>
  /** Mirror deletions over the delete limit (maxDelete) go ahead instead of refusing the item. */
  force?: boolean
  /** Shown files and bytes done, rate and time left while rsync items transfer (the playbook's stderr). */
  progress?: SyncProgress
}

export { stopSyncs, SyncStopped } from './lease.ts'

/** Checks the command line against the pair before anything is contacted. */
function validate(pair: Pair, o: SyncOptions): void {
  if (!pair.sync?.items.length) throw new InputError(`pair ${pair.name} has no sync items`)
  if (o.bootstrap && o.to) throw new InputError('--bootstrap names its own target: drop --to')
  if (o.bootstrap && o.items?.length) throw new InputError('--bootstrap copies every item: drop --item')
  for (const n of [o.to, o.from, o.bootstrap]) if (n) findNode(pair, n)
  if (o.ioTimeoutSec !== undefined && !(Number.isInteger(o.ioTimeoutSec) && o.ioTimeoutSec > 0))
    throw new InputError(`--timeout must be a positive number of seconds (got ${o.ioTimeoutSec})`)
}

/** The direction guard: data flows only out of the active node, never into it. */
export function guardDirection(active: string, epoch: number, o: Pick<SyncOptions, 'to' | 'from' | 'bootstrap'>): void {
  const who = `the active node is ${active}${epoch ? ` (epoch ${epoch})` : ' (the inventory primary; no failover recorded)'}`
  if (o.from && o.from !== active) throw new RefusedError(`refusing to sync from ${o.from}: ${who}; syncing from any other node overwrites newer data`)
  if (o.to === active) throw new RefusedError(`refusing to sync to ${o.to}: ${who}, and data only flows out of it`)
  if (o.bootstrap === active) throw new RefusedError(`refusing to bootstrap ${o.bootstrap}: ${who}; bootstrap overwrites the target`)
}

/**
 * A failover or failback under way moves the active node: a sync now could write into the node
 * being promoted. A stale lock refuses too: its run died, and the pair is whatever it left.
 */
export function guardLock(pair: Pair, seen: (Partial<LockSeen> | { unreachable: string })[], now = Date.now()): void {
  const locks = seen
    .filter((f): f is Partial<LockSeen> => !('unreachable' in f) && f.lock !== undefined)
    .map((f) => ({ ...f, owner: parseOwner(f.lock), on: f.node ? ` on ${f.node}` : '' }))
  const live = locks.find((l) => l.owner && !isStale(l.owner, now))
  if (live)
    throw new RefusedError(
      `pair ${pair.name} is locked by ${describeOwner(live.owner!)}${live.on}: a failover or failback is under way; sync again when it is done`,
    )
  const l = locks.find((x) => x.journal) ?? locks[0]
  if (!l) return
  const who = l.owner ? describeOwner(l.owner) : 'an owner that cannot be read'
  const rerun = `re-run \`${finishCommand(pair, 'failover')}\` (or \`${finishCommand(pair, 'failback')}\`) to take the stale lock over and converge`
  if (l.journal) {
    const j = parseJournal(l.journal, pair)
    if (j.journal) {
      throw new RefusedError(
        `pair ${pair.name} has an unfinished ${j.journal.operation} from ${j.journal.from} to ${j.journal.to} (epoch ${j.journal.epoch}; lock${l.on} left by ${who}): finish it first with \`${finishCommand(pair, j.journal.operation)}\`; sync refuses until then`,
      )
    }
    throw new RefusedError(
      `pair ${pair.name} has an interrupted operation whose journal${l.on} is unusable (${j.problem}), left by ${who}: nothing resumes it; check the nodes, then ${rerun}`,
    )
  }
  throw new RefusedError(`pair ${pair.name} is still locked${l.on} by ${who}, a run that died before it journalled a change: ${rerun}; sync refuses until then`)
}

/** The end of a sync a failover stopped: nothing is recorded (the records belong to the new active node's history). */
function stoppedError(pair: Pair, source: string, reason: string): SyncStopped {
  return new SyncStopped(`sync of pair ${pair.name} from ${source} ${reason}; nothing was recorded, and ${source} may no longer be the active node`)
}

export async function runSync(inv: LoadedInventory, pair: Pair, pool: SshPool, o: SyncOptions = {}): Promise<SyncReport> {
  const started = Date.now()
  const now = () => (o.now?.() ?? new Date()).toISOString()
  let mark = started
  const phase = (what: string) => {
    o.log?.(`${what} (${Date.now() - mark} ms)`)
    mark = Date.now()
  }
  validate(pair, o)
  const items = selectItems(pair, o.bootstrap ? [] : o.items)
  const ioTimeoutSec = o.ioTimeoutSec ?? 60
  if (items.some((i) => (i.transport ?? 'rsync') === 'rsync')) {
    const bad = hopProblems({ keyFile: pair.sync?.nodeKeyFile, knownHostsFile: pair.sync?.nodeKnownHostsFile })
    if (bad.length) throw new InputError(`pair ${pair.name}: ${bad.join('; ')}`, bad)
  }

  // Who is active and what every node reports, asked at once: each question is a round trip.
  const probes = new Map<string, Promise<NodeFacts | { unreachable: string }>>()
  for (const n of pair.nodes) {
    const p = probeNode(pool.session(pair, n), pair, items).catch((e) => {
      if (!(e instanceof RemoteError)) throw e
      return { unreachable: e.message }
    })
    p.catch(() => {
      /* awaited below when needed; a refused run never asks */
    })
    probes.set(n.name, p)
  }
  // The source is the active node only when the records can be believed: a forged, cut-short
  // or contradicted record refuses here, before any byte moves.
  const obs = await observe(inv, pool, pair)
  const view = obs.view
  phase(`active node: ${view.active}`)
  if (obs.problems.length) throw new RefusedError(problemsMessage(obs))
  const source = view.active
  guardDirection(source, view.epoch, o)
  const targets = o.bootstrap ? [o.bootstrap] : o.to ? [o.to] : pair.nodes.map((n) => n.name).filter((n) => n !== source)
  const reach: Record<string, NodeFacts | { unreachable: string }> = {}
  for (const t of targets) reach[t] = view.unreachable[t] ? { unreachable: view.unreachable[t] } : await probes.get(t)!
  const sourceFacts = await probes.get(source)!
  if (view.unreachable[source] || 'unreachable' in sourceFacts) {
    const why = view.unreachable[source] ?? (sourceFacts as { unreachable: string }).unreachable
    throw new RemoteError(`the active node cannot be reached, so nothing can be synced from it: ${why}`, {
      node: source,
      host: findNode(pair, source).address,
      unreachable: true,
    })
  }
  const fence = await fenceRun(
    pool,
    pair,
    o,
    source,
    targets.filter((t) => !('unreachable' in reach[t])),
    view.epoch,
    probes,
  )
  try {
    return await syncFenced({ inv, pair, pool, o, view, source, targets, reach, sourceFacts, items, ioTimeoutSec, now, phase, started, fence })
  } finally {
    await fence.end()
  }
}

/** Takes the run's leases, then refuses if any node is locked or the source's epoch moved since it was read. */
async function fenceRun(
  pool: SshPool,
  pair: Pair,
  o: SyncOptions,
  source: string,
  targets: string[],
  epoch: number,
  probes: Map<string, Promise<NodeFacts | { unreachable: string }>>,
): Promise<Fence> {
  const lockId = typeof o.lockHeld === 'object' ? o.lockHeld.owner.id : undefined
  const { fence, seen, epochs } = await takeFence(pool, pair, [source, ...targets], { lockHeld: !!o.lockHeld, lockId })
  try {
    if (!o.lockHeld) guardLock(pair, [...seen, ...(await Promise.all([...probes.entries()].map(async ([node, p]) => ({ node, ...(await p) }))))])
    if (epochs[source] === undefined)
      throw new RemoteError('could not take the sync lease on the active node', { node: source, host: findNode(pair, source).address, unreachable: true })
    const now = epochs[source] === 'none' ? 0 : Number(epochs[source])
    if (now > epoch) throw stoppedError(pair, source, `stopped: a failover took the pair (epoch ${now} appeared while the sync started)`)
  } catch (e) {
    await fence.end()
    throw e
  }
  return fence
}

async function syncFenced(r: {
  inv: LoadedInventory
  pair: Pair
  pool: SshPool
  o: SyncOptions
  view: ActiveView
  source: string
  targets: string[]
  reach: Record<string, NodeFacts | { unreachable: string }>
  sourceFacts: NodeFacts
  items: ReturnType<typeof selectItems>
  ioTimeoutSec: number
  now: () => string
  phase: (what: string) => void
  started: number
  fence: Fence
}): Promise<SyncReport> {
  const { inv, pair, pool, o, view, source, targets, reach, sourceFacts, items, ioTimeoutSec, now, phase, started, fence } = r
  const src = pool.session(pair, source)
  const records = o.dryRun ? undefined : recorder(src, pair)
  phase('versions probed')
  const plan = buildPlan({ pair, items, targets, source: sourceFacts, reach, bootstrap: !!o.bootstrap })

  // Each target gets its items in priority order; targets proceed side by side.
  const pinned: string[] = []
  const results = new Map<Step, ItemResult>()
  const ctx: DeliverContext = {
    inv,
    pair,
    pool,
    src,
    sourceFacts,
    dryRun: !!o.dryRun,
    bootstrap: !!o.bootstrap,
    force: !!o.force,
    ioTimeoutSec,
    now,
    log: o.log,
    pinned,
    progress: o.progress,
    pendingBefore: view.states[source]?.degraded?.pending ?? {},
    fence,
  }
  await Promise.all(
    targets.map((t) =>
      deliverTo(
        ctx,
        t,
        plan.filter((s) => s.target === t),
        results,
      ),
    ),
  )
  const ordered = plan.map((s) => results.get(s)!).filter(Boolean)
  phase('items done')
  // Records too are written only while the source is still the active node.
  if (!fence.stopped() && records)
    await fence.check(source).catch((e) => {
      if (!(e instanceof SyncStopped)) throw e
    })
  const stop = fence.stopped()
  if (stop) {
    records?.close()
    throw stoppedError(pair, source, stop)
  }

  let degraded = view.states[source]?.degraded ?? null
  if (records) {
    try {
      degraded = await records.record(view.states[source] ?? {}, ordered, now())
    } catch (e) {
      if (e instanceof HapairError) throw e
      throw new RemoteError(`the items ran, but recording them failed: ${(e as Error).message}`, {
        node: source,
        host: findNode(pair, source).address,
        cause: e,
      })
    } finally {
      records.close()
    }
  }
  phase('recorded')
  const failed = ordered.filter((r) => r.outcome === 'failed' || r.outcome === 'pending')
  const exitCode = failed.some((r) => !r.link && !r.refusedForSafety)
    ? EXIT.failed
    : ordered.some((r) => r.outcome === 'refused' || r.refusedForSafety)
      ? EXIT.refused
      : failed.length
        ? EXIT.degraded
        : EXIT.ok
  return {
    pair: pair.name,
    source,
    activeFrom: view.source,
    epoch: view.epoch,
    targets,
    dryRun: !!o.dryRun,
    bootstrap: o.bootstrap,
    results: ordered,
    pinned,
    degraded,
    exitCode,
    ms: Date.now() - started,
  }
}
