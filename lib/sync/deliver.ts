// One target's share of a run: its steps in priority order, each over its item's transport.
// The first rsync item pins the hop; a link lost on one item leaves the rest pending untried.
import { HapairError, RefusedError, RemoteError } from '../errors.ts'
import { findNode, type LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import type { NodeSession, SshPool } from '../ssh.ts'
import { deleteLimit, describeRefusal } from './delete-guard.ts'
import { protectedIn } from './filters.ts'
import { checkpoint, SyncStopped, type Fence } from './lease.ts'
import { ensurePinned } from './pin.ts'
import type { NodeFacts, Step } from './plan.ts'
import type { SyncProgress } from './progress.ts'
import { partialDir } from './rsync.ts'
import { rsyncItem } from './run-rsync.ts'
import { isLinkError, sftpItem } from './sftp.ts'
import { emptyCounts, type ItemResult } from './types.ts'

export interface DeliverContext {
  inv: LoadedInventory
  pair: Pair
  pool: SshPool
  src: NodeSession
  sourceFacts: NodeFacts
  dryRun: boolean
  bootstrap: boolean
  /** Mirror deletions over the limit go ahead (--force). */
  force?: boolean
  ioTimeoutSec: number
  now: () => string
  log?: (line: string) => void
  /** Targets whose pin this run copied onto the source. */
  pinned: string[]
  /** What the degraded mark held before this run: only those items can have a half-received file. */
  pendingBefore: Record<string, string[]>
  /** The run's lease: every item and target is checked against it first (lib/sync/lease.ts). */
  fence?: Fence
  progress?: SyncProgress
}

/** Why the hop to target cannot be trusted (refused: a safety refusal, exit 3), or undefined when it can (copying a missing pin first). */
async function pinProblem(ctx: DeliverContext, target: string): Promise<{ reason: string; refused?: boolean } | undefined> {
  let v
  try {
    v = await ensurePinned(
      ctx.src,
      ctx.inv,
      ctx.pair,
      findNode(ctx.pair, target),
      ctx.pair.sync!.nodeKnownHostsFile!,
      ctx.sourceFacts.knownHosts ?? '',
      ctx.dryRun,
    )
  } catch (e) {
    // Only this target's hop is refused; the others go on, and its items stay owed.
    if (e instanceof RefusedError) return { reason: e.message, refused: true }
    throw e
  }
  if (v.state === 'conflict' || v.state === 'untrusted') return { reason: v.reason }
  if (v.state === 'missing') {
    if (ctx.dryRun) return { reason: `the source does not pin ${target}'s host key yet; a real run copies it from the controller's known_hosts` }
    ctx.pinned.push(target)
  }
  return undefined
}

async function sendItem(ctx: DeliverContext, step: Step, transport: 'rsync' | 'sftp'): Promise<Partial<ItemResult>> {
  // Ended here too: an item that fails before its transfer starts must not stay on the progress line.
  const progress = ctx.dryRun ? undefined : ctx.progress?.track(`${step.item.name} -> ${step.target}`)
  try {
    return await send(ctx, step, transport, progress)
  } finally {
    progress?.done()
  }
}

async function send(
  ctx: DeliverContext,
  step: Step,
  transport: 'rsync' | 'sftp',
  progress: ReturnType<SyncProgress['track']> | undefined,
): Promise<Partial<ItemResult>> {
  const protect = protectedIn(ctx.pair, step.item)
  const done = ctx.dryRun ? ('dry-run' as const) : ('ok' as const)
  const deletes = { limit: deleteLimit(ctx.pair, step.item), force: !!ctx.force }
  const held = (r: { refused?: ItemResult['refused'] }) => r.refused && { outcome: 'refused' as const, refused: r.refused, reason: describeRefusal(r.refused) }
  if (transport === 'rsync') {
    if (ctx.bootstrap && !ctx.dryRun) await ctx.pool.session(ctx.pair, step.target).run(['mkdir', '-p', step.item.path])
    const r = await rsyncItem({
      inv: ctx.inv,
      pair: ctx.pair,
      src: ctx.src,
      target: findNode(ctx.pair, step.target),
      item: step.item,
      protect,
      dryRun: ctx.dryRun,
      ioTimeoutSec: ctx.ioTimeoutSec,
      deletes,
      fence: ctx.fence,
      progress,
    })
    if (r.ok && !ctx.dryRun && ctx.pendingBefore[step.target]?.includes(step.item.name)) {
      // A resumed transfer leaves rsync's (absolute) partial directory behind, empty.
      await ctx.pool
        .session(ctx.pair, step.target)
        .run({ script: sh`rmdir ${partialDir(step.item)} 2>/dev/null; exit 0` })
        .catch(() => {})
    }
    const counts = {
      files: r.files,
      sent: r.sent,
      deleted: r.deleted,
      unchanged: r.unchanged,
      bytes: r.bytes,
      wireBytes: r.wireBytes,
      changes: r.changes,
      ...(ctx.dryRun ? { dryRunBytes: r.dryRunBytes } : {}),
    }
    return r.ok ? { ...counts, outcome: done, reason: r.reason ?? step.reason, ...held(r) } : { ...counts, outcome: 'failed', link: r.link, reason: r.reason }
  }
  // The controller moves these files itself: the fence is checked as it goes, and stopSyncs waits for it.
  await ctx.fence?.check(ctx.src.name)
  if (!ctx.dryRun) await ctx.fence?.inFlight(ctx.src.name, true)
  const r = await sftpItem({
    src: ctx.src,
    dst: ctx.pool.session(ctx.pair, step.target),
    item: step.item,
    protect,
    dryRun: ctx.dryRun,
    bootstrap: ctx.bootstrap,
    deletes,
    checkpoint: ctx.fence && checkpoint(ctx.fence, [ctx.src.name, step.target]),
    progress,
  }).finally(() => ctx.dryRun || ctx.fence?.inFlight(ctx.src.name, false))
  const counts = {
    files: r.files,
    sent: r.sent,
    deleted: r.deleted,
    unchanged: r.unchanged,
    bytes: r.bytes,
    changes: r.changes,
    ...(ctx.dryRun ? { dryRunBytes: r.bytes } : {}),
  }
  return r.errors.length
    ? { ...counts, outcome: 'failed', reason: `${r.errors.length} error(s): ${r.errors[0]}` }
    : { ...counts, outcome: done, reason: r.warning ?? step.reason, ...held(r) }
}

export async function deliverTo(ctx: DeliverContext, target: string, steps: Step[], results: Map<Step, ItemResult>): Promise<void> {
  let lost: string | undefined
  let pin: { problem?: { reason: string; refused?: boolean } } | undefined
  for (const step of steps) {
    const t0 = Date.now()
    const transport = step.item.transport ?? 'rsync'
    const base: ItemResult = {
      item: step.item.name,
      target,
      transport,
      priority: step.item.priority ?? 0,
      outcome: 'ok',
      ...emptyCounts,
      versions: step.versions,
      startedAt: ctx.now(),
      ms: 0,
    }
    const done = (r: Partial<ItemResult>) => {
      results.set(step, { ...base, ...r, ms: Date.now() - t0 })
      ctx.log?.(`${base.item} -> ${target}: ${r.outcome}${r.reason ? `: ${r.reason}` : ''} (${Date.now() - t0} ms)`)
      if (r.outcome === 'failed' && r.link) lost = `not attempted: ${target} was lost during an earlier item (${r.reason})`
    }
    if (step.action === 'skip') {
      done({ outcome: 'skipped', reason: step.reason })
      continue
    }
    if (step.action === 'fail') {
      done({ outcome: 'failed', reason: step.reason })
      continue
    }
    if (step.action === 'pending' || lost) {
      done({ outcome: 'pending', link: true, reason: lost ?? step.reason })
      continue
    }
    if (ctx.fence?.stopped()) {
      done({ outcome: 'pending', reason: `not attempted: ${ctx.fence.stopped()}` })
      continue
    }
    try {
      await ctx.fence?.check(target)
      if (transport === 'rsync') {
        pin ??= { problem: await pinProblem(ctx, target) }
        if (pin.problem) {
          done({ outcome: 'failed', reason: pin.problem.reason, refusedForSafety: pin.problem.refused })
          continue
        }
      }
      done(await sendItem(ctx, step, transport))
    } catch (e) {
      if (e instanceof SyncStopped) {
        done({ outcome: 'pending', reason: e.message })
        continue
      }
      if (e instanceof HapairError && !(e instanceof RemoteError)) throw e
      done({ outcome: 'failed', link: isLinkError(e), reason: e instanceof RemoteError ? e.message : `${transport}: ${(e as Error)?.message ?? e}` })
    }
  }
}
