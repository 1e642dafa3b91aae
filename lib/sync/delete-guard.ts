// Mirror deletions, guarded. After a failover to a stale node, a plain sync of a mirror item
// would delete the newer data from every other node; so a sync that would delete more than a
// limit from a target (an item's maxDelete, else sync.maxDelete, else the defaults) refuses for
// that item (exit 3) and names what would go, unless --force. Protected and excluded paths are
// never deleted either way (the same filter rules hold in every pass).
//
// README: "A mirror sync deletes at most 1000 files, and at most a fifth of the files the target
// holds in the item once more than 10 would go (`maxDelete: { count, share }` per item or in
// `sync`); over that it deletes nothing, lists the first 20 paths and exits 3; `--force` lifts it."
import { RemoteError } from '../errors.ts'
import type { Pair, SyncItem } from '../inventory/schema.ts'
import {
  classifyExit,
  deleteArgv,
  deletedPaths,
  parseHeldDeletes,
  parseItemized,
  parseNonDirCounts,
  parseStats,
  withoutHeldNoise,
  type RsyncOptions,
  type ExitVerdict,
} from './rsync.ts'

/** Large enough for routine pruning, small enough that a stale source cannot empty an item. */
export const MAX_DELETE_DEFAULT = { count: 1000, share: 0.2 } as const
/** The share rule applies only once more than this many files would go: a small item may lose a few. */
export const SHARE_MIN_FILES = 10
/** Paths a refusal names. */
export const REFUSAL_LIST_MAX = 20

export interface DeleteLimit {
  count: number
  share: number
}

/** Per field: the item's own value, else the pair-wide one, else the default. */
export function deleteLimit(pair: Pair, item: SyncItem): DeleteLimit {
  const pw = pair.sync?.maxDelete ?? {},
    own = item.maxDelete ?? {}
  return { count: own.count ?? pw.count ?? MAX_DELETE_DEFAULT.count, share: own.share ?? pw.share ?? MAX_DELETE_DEFAULT.share }
}

/**
 * Why deleting `files` of the `held` files a target holds in the item breaks the limit, or
 * undefined when it does not. Files: every entry but directories (a directory goes with them).
 */
export function overLimit(files: number, held: number, l: DeleteLimit): string | undefined {
  if (files > l.count) return `limit maxDelete.count ${l.count}`
  if (files > SHARE_MIN_FILES && files > l.share * held)
    return `limit maxDelete.share ${l.share} (${Math.round((100 * files) / Math.max(held, 1))}% of the item's files)`
  return undefined
}

export interface Refusal {
  /** Files it would delete (directories not counted). */
  count: number
  /** Files the target holds in the item. */
  held: number
  /** The limit broken, in words. */
  limit: string
  /** The first REFUSAL_LIST_MAX paths it would delete, relative to the item; directories end with "/". */
  paths: string[]
  /** All paths it would delete. */
  total: number
}

export function refusal(paths: string[], held: number, limit: string): Refusal {
  const files = paths.filter((p) => !p.endsWith('/')).length
  return { count: files, held, limit, paths: paths.slice(0, REFUSAL_LIST_MAX), total: paths.length }
}

export function describeRefusal(r: Refusal): string {
  const more = r.total > r.paths.length ? ` and ${r.total - r.paths.length} more` : ''
  return (
    `refused to delete ${r.count} of the ${r.held} files the target holds (${r.limit}): ${r.paths.join(', ')}${more}; nothing was deleted. ` +
    'Is the source the node with the newest data? Sync again with --force to delete them'
  )
}

/** The judgement as the sftp transport makes it: its tree diff knows every deletion before any change. */
export function judgeRemovals(remove: { rel: string; type: string }[], dst: Map<string, { type: string }>, l: DeleteLimit): Refusal | undefined {
  if (remove.length === 0) return undefined
  const files = remove.filter((e) => e.type !== 'dir').length
  const held = [...dst.values()].filter((e) => e.type !== 'dir').length
  const why = overLimit(files, held, l)
  if (!why) return undefined
  const paths = [...remove].sort((a, b) => (a.rel < b.rel ? -1 : 1)).map((e) => (e.type === 'dir' ? `${e.rel}/` : e.rel))
  return refusal(paths, held, why)
}

/** A dry run's note: the real run would refuse (the itemised list already shows the paths). */
export function dryRunNote(itemized: string[], statsOut: string, l: DeleteLimit): string | undefined {
  const paths = deletedPaths(itemized)
  if (paths.length === 0) return undefined
  const files = paths.filter((p) => !p.endsWith('/')).length
  const c = parseNonDirCounts(statsOut)
  const why = overLimit(files, c.source - c.created + files, l)
  return why && `a real sync would refuse: ${files} files to delete, over the ${why}`
}

export interface Pass {
  code: number | null
  stdout: string
  stderr: string
  signal?: string | null
}

export interface Settled {
  verdict: ExitVerdict
  deleted: number
  refused?: Refusal
}

/**
 * After a transfer run with --max-delete=0: nothing held back costs nothing more; within the
 * limit, one deletion-only pass; over it (rsync's count is an upper bound of the files, so a
 * dry run of that pass lists and counts them exactly first), a refusal naming the paths.
 */
export async function settleHeldDeletes(run: (argv: string[]) => Promise<Pass>, o: RsyncOptions, transfer: Pass, l: DeleteLimit): Promise<Settled> {
  const held = parseHeldDeletes(transfer.stderr)
  const verdict = classifyExit(transfer.code === 25 ? 0 : transfer.code, withoutHeldNoise(transfer.stderr), transfer.signal)
  if (!verdict.ok || held === 0) return { verdict, deleted: 0 }
  const c = parseNonDirCounts(transfer.stdout)
  const before = c.source - c.created // files the target held that the source also has
  try {
    if (overLimit(held, before + held, l)) {
      const dry = await run(deleteArgv(o, true))
      const dv = classifyExit(dry.code, dry.stderr, dry.signal)
      if (!dv.ok) return { verdict: dv, deleted: 0 }
      const paths = deletedPaths(parseItemized(dry.stdout)).sort()
      const files = paths.filter((p) => !p.endsWith('/')).length
      const why = overLimit(files, before + files, l)
      if (why) return { verdict, deleted: 0, refused: refusal(paths, before + files, why) }
    }
    const del = await run(deleteArgv(o, false))
    const delVerdict = classifyExit(del.code, del.stderr, del.signal)
    return { verdict: delVerdict.ok ? verdict : delVerdict, deleted: parseStats(del.stdout).deleted }
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e
    return { verdict: { ok: false, link: false, reason: `lost the source node while rsync deleted: ${e.message}` }, deleted: 0 }
  }
}
