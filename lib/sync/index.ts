// One sync run: guard the direction, probe versions, plan, pin the hop, move each item to each
// target in priority order, then record what arrived and what is still owed (degraded mode).
import { EXIT, HapairError, InputError, RefusedError, RemoteError } from '../errors.ts'
import { findNode, type LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { activeView } from '../active.ts'
import { describeOwner, isStale, type LockOwner } from '../lock.ts'
import type { SshPool } from '../ssh.ts'
import { deliverTo, type DeliverContext } from './deliver.ts'
import { recorder } from './records.ts'
import { buildPlan, selectItems, type NodeFacts, type Step } from './plan.ts'
import { hopProblems } from './rsync.ts'
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
  /** The caller holds the pair's operation lock itself (a failover that syncs before switching). */
  lockHeld?: boolean
}

/** Checks the command line against the pair before anything is contacted. */
function validate(pair: Pair, o: SyncOptions): void {
  if (!pair.sync?.items.length) throw new InputError(`pair ${pair.name} has no sync items`)
  if (o.bootstrap && o.to) throw new InputError('--bootstrap names its own target: drop --to')
  if (o.bootstrap && o.items?.length) throw new InputError('--bootstrap copies every item: drop --item')
  for (const n of [o.to, o.from, o.bootstrap]) if (n) findNode(pair, n)
  if (o.ioTimeoutSec !== undefined && !(Number.isInteger(o.ioTimeoutSec) && o.ioTimeoutSec > 0)) throw new InputError(`--timeout must be a positive number of seconds (got ${o.ioTimeoutSec})`)
}

/** The direction guard: data flows only out of the active node, never into it. */
export function guardDirection(active: string, epoch: number, o: Pick<SyncOptions, 'to' | 'from' | 'bootstrap'>): void {
  const who = `the active node is ${active}${epoch ? ` (epoch ${epoch})` : ' (the inventory primary; no failover recorded)'}`
  if (o.from && o.from !== active) throw new RefusedError(`refusing to sync from ${o.from}: ${who}; syncing from any other node overwrites newer data`)
  if (o.to === active) throw new RefusedError(`refusing to sync to ${o.to}: ${who}, and data only flows out of it`)
  if (o.bootstrap === active) throw new RefusedError(`refusing to bootstrap ${o.bootstrap}: ${who}; bootstrap overwrites the target`)
}

/** A failover or failback under way moves the active node: a sync now could write into the node being promoted. */
export function guardLock(pair: Pair, facts: (NodeFacts | { unreachable: string })[], now = Date.now()): void {
  for (const f of facts) {
    if ('unreachable' in f || !f.lock) continue
    let owner: LockOwner | undefined
    try { owner = JSON.parse(f.lock) } catch { continue /* half-written: the lock's own rules treat it as stale */ }
    if (owner && !isStale(owner, now)) throw new RefusedError(`pair ${pair.name} is locked by ${describeOwner(owner)}: a failover or failback is under way; sync again when it is done`)
  }
}

export async function runSync(inv: LoadedInventory, pair: Pair, pool: SshPool, o: SyncOptions = {}): Promise<SyncReport> {
  const started = Date.now()
  const now = () => (o.now?.() ?? new Date()).toISOString()
  let mark = started
  const phase = (what: string) => { o.log?.(`${what} (${Date.now() - mark} ms)`); mark = Date.now() }
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
    p.catch(() => { /* awaited below when needed; a refused run never asks */ })
    probes.set(n.name, p)
  }
  const view = await activeView(pool, pair)
  phase(`active node: ${view.active}`)
  const source = view.active
  if (!pair.nodes.some((n) => n.name === source)) throw new RefusedError(`the recorded active node "${source}" (epoch ${view.epoch}) is not in the inventory: refusing to guess the source`)
  guardDirection(source, view.epoch, o)
  const targets = o.bootstrap ? [o.bootstrap] : o.to ? [o.to] : pair.nodes.map((n) => n.name).filter((n) => n !== source)
  const reach: Record<string, NodeFacts | { unreachable: string }> = {}
  for (const t of targets) reach[t] = view.unreachable[t] ? { unreachable: view.unreachable[t] } : await probes.get(t)!
  if (!o.lockHeld) guardLock(pair, await Promise.all([...probes.values()]))
  const sourceFacts = await probes.get(source)!
  if (view.unreachable[source] || 'unreachable' in sourceFacts) {
    const why = view.unreachable[source] ?? (sourceFacts as { unreachable: string }).unreachable
    throw new RemoteError(`the active node cannot be reached, so nothing can be synced from it: ${why}`, { node: source, host: findNode(pair, source).address, unreachable: true })
  }
  const src = pool.session(pair, source)
  const records = o.dryRun ? undefined : recorder(src, pair)
  phase('versions probed')
  const plan = buildPlan({ pair, items, targets, source: sourceFacts, reach, bootstrap: !!o.bootstrap })

  // Each target gets its items in priority order; targets proceed side by side.
  const pinned: string[] = []
  const results = new Map<Step, ItemResult>()
  const ctx: DeliverContext = { inv, pair, pool, src, sourceFacts, dryRun: !!o.dryRun, bootstrap: !!o.bootstrap, ioTimeoutSec, now, log: o.log, pinned,
    pendingBefore: view.states[source]?.degraded?.pending ?? {} }
  await Promise.all(targets.map((t) => deliverTo(ctx, t, plan.filter((s) => s.target === t), results)))
  const ordered = plan.map((s) => results.get(s)!).filter(Boolean)
  phase('items done')

  let degraded = view.states[source]?.degraded ?? null
  if (records) {
    try { degraded = await records.record(view.states[source] ?? {}, ordered, now()) } catch (e) {
      if (e instanceof HapairError) throw e
      throw new RemoteError(`the items ran, but recording them failed: ${(e as Error).message}`, { node: source, host: findNode(pair, source).address, cause: e })
    } finally { records.close() }
  }
  phase('recorded')
  const failed = ordered.filter((r) => r.outcome === 'failed' || r.outcome === 'pending')
  const exitCode = failed.some((r) => !r.link) ? EXIT.failed : failed.length ? EXIT.degraded : EXIT.ok
  return {
    pair: pair.name, source, activeFrom: view.source, epoch: view.epoch, targets, dryRun: !!o.dryRun, bootstrap: o.bootstrap,
    results: ordered, pinned, degraded, exitCode, ms: Date.now() - started,
  }
}
