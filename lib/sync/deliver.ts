// One target's share of a run: its steps in priority order, each over its item's transport.
// The first rsync item pins the hop; a link lost on one item leaves the rest pending untried.
import { HapairError, RemoteError } from '../errors.ts'
import { findNode, type LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import type { NodeSession, SshPool } from '../ssh.ts'
import { protectedIn } from './filters.ts'
import { ensurePinned } from './pin.ts'
import type { NodeFacts, Step } from './plan.ts'
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
  ioTimeoutSec: number
  now: () => string
  log?: (line: string) => void
  /** Targets whose pin this run copied onto the source. */
  pinned: string[]
  /** What the degraded mark held before this run: only those items can have a half-received file. */
  pendingBefore: Record<string, string[]>
}

/** Why the hop to target cannot be trusted, or undefined when it can (copying a missing pin first). */
async function pinProblem(ctx: DeliverContext, target: string): Promise<string | undefined> {
  const v = await ensurePinned(ctx.src, ctx.inv, ctx.pair, findNode(ctx.pair, target), ctx.pair.sync!.nodeKnownHostsFile!, ctx.sourceFacts.knownHosts ?? '', ctx.dryRun)
  if (v.state === 'conflict' || v.state === 'untrusted') return v.reason
  if (v.state === 'missing') {
    if (ctx.dryRun) return `the source does not pin ${target}'s host key yet; a real run copies it from the controller's known_hosts`
    ctx.pinned.push(target)
  }
  return undefined
}

async function sendItem(ctx: DeliverContext, step: Step, transport: 'rsync' | 'sftp'): Promise<Partial<ItemResult>> {
  const protect = protectedIn(ctx.pair, step.item)
  const done = ctx.dryRun ? 'dry-run' as const : 'ok' as const
  if (transport === 'rsync') {
    if (ctx.bootstrap && !ctx.dryRun) await ctx.pool.session(ctx.pair, step.target).run(['mkdir', '-p', step.item.path])
    const r = await rsyncItem({ inv: ctx.inv, pair: ctx.pair, src: ctx.src, target: findNode(ctx.pair, step.target), item: step.item, protect, dryRun: ctx.dryRun, ioTimeoutSec: ctx.ioTimeoutSec })
    if (r.ok && !ctx.dryRun && ctx.pendingBefore[step.target]?.includes(step.item.name)) {
      // A resumed transfer leaves rsync's (absolute) partial directory behind, empty.
      await ctx.pool.session(ctx.pair, step.target).run({ script: sh`rmdir ${partialDir(step.item)} 2>/dev/null; exit 0` }).catch(() => {})
    }
    const counts = { files: r.files, sent: r.sent, deleted: r.deleted, unchanged: r.unchanged, bytes: r.bytes, wireBytes: r.wireBytes, changes: r.changes }
    return r.ok ? { ...counts, outcome: done, reason: r.reason ?? step.reason } : { ...counts, outcome: 'failed', link: r.link, reason: r.reason }
  }
  const r = await sftpItem({ src: ctx.src, dst: ctx.pool.session(ctx.pair, step.target), item: step.item, protect, dryRun: ctx.dryRun, bootstrap: ctx.bootstrap })
  const counts = { files: r.files, sent: r.sent, deleted: r.deleted, unchanged: r.unchanged, bytes: r.bytes, changes: r.changes }
  return r.errors.length ? { ...counts, outcome: 'failed', reason: `${r.errors.length} error(s): ${r.errors[0]}` } : { ...counts, outcome: done, reason: r.warning ?? step.reason }
}

export async function deliverTo(ctx: DeliverContext, target: string, steps: Step[], results: Map<Step, ItemResult>): Promise<void> {
  let lost: string | undefined
  let pin: { problem?: string } | undefined
  for (const step of steps) {
    const t0 = Date.now()
    const transport = step.item.transport ?? 'rsync'
    const base: ItemResult = {
      item: step.item.name, target, transport, priority: step.item.priority ?? 0,
      outcome: 'ok', ...emptyCounts, versions: step.versions, startedAt: ctx.now(), ms: 0,
    }
    const done = (r: Partial<ItemResult>) => {
      results.set(step, { ...base, ...r, ms: Date.now() - t0 })
      ctx.log?.(`${base.item} -> ${target}: ${r.outcome}${r.reason ? `: ${r.reason}` : ''} (${Date.now() - t0} ms)`)
      if (r.outcome === 'failed' && r.link) lost = `not attempted: ${target} was lost during an earlier item (${r.reason})`
    }
    if (step.action === 'skip') { done({ outcome: 'skipped', reason: step.reason }); continue }
    if (step.action === 'fail') { done({ outcome: 'failed', reason: step.reason }); continue }
    if (step.action === 'pending' || lost) { done({ outcome: 'pending', link: true, reason: lost ?? step.reason }); continue }
    try {
      if (transport === 'rsync') {
        pin ??= { problem: await pinProblem(ctx, target) }
        if (pin.problem) { done({ outcome: 'failed', reason: pin.problem }); continue }
      }
      done(await sendItem(ctx, step, transport))
    } catch (e) {
      if (e instanceof HapairError && !(e instanceof RemoteError)) throw e
      done({ outcome: 'failed', link: isLinkError(e), reason: e instanceof RemoteError ? e.message : `${transport}: ${(e as Error)?.message ?? e}` })
    }
  }
}
