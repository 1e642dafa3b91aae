// One batch of one item to one target: the node-to-node rsync of a full sync (same pinned hop,
// same protect and exclude rules, same atomic per-file replacement, same partial dir), told
// exactly which paths to look at (--files-from on stdin, NUL-separated, so any name goes
// through whole). A path gone from the source is deleted on the target only for a mirror item
// (--delete-missing-args), and only within the item's delete limit: over it, the batch ships
// everything else and the deletions wait (delete-guard.ts's rule, judged on a dry run).
import { sshSettings, stateDir, type LoadedInventory } from '../../inventory/load.ts'
import type { Node, Pair, SyncItem } from '../../inventory/schema.ts'
import type { NodeSession } from '../../ssh.ts'
import { overLimit, refusal, SHARE_MIN_FILES, type DeleteLimit, type Refusal } from '../delete-guard.ts'
import { PARTIAL_DIR, protectRules } from '../filters.ts'
import { STOPPED_EXIT, type Fence } from '../lease.ts'
import { hostKeyAlias } from '../pin.ts'
import { classifyExit, deletedPaths, parseItemized, parseStats, MODIFY_WINDOW, partialDir, remoteRsync, sshCommand, type RsyncOptions } from '../rsync.ts'
import type { InflightEntry } from './inflight.ts'
import { peerAddress } from '../../inventory/peer-address.ts'

export interface FollowRsyncOptions extends RsyncOptions {
  /** Paths missing on the source are deleted on the target (mirror items only). */
  deletes: boolean
  /** A control socket on the source for the hop: batches reuse one pinned connection instead of a handshake each. */
  mux?: string
  /** An absolute directory on the target that keeps every file this transfer replaces or deletes (failback's recovery of in-flight paths). */
  backupDir?: string
}

/** Where the hop's shared connection listens on the source; undefined when the state dir cannot go into rsync's -e value. */
export function muxPath(stateDir: string): string | undefined {
  return /[\s'"\\%]/.test(stateDir) ? undefined : `${stateDir.replace(/\/+$/, '')}/hop-%C`
}

/**
 * The hop of a full sync, plus connection sharing: the first batch's ssh (host key checked
 * against the pin as always) stays up for a while and the next batches run over it.
 */
export function hopCommand(o: FollowRsyncOptions): string {
  const base = sshCommand(o)
  return o.mux ? `${base} -o ControlMaster=auto -o ControlPath=${o.mux} -o ControlPersist=30` : base
}

const slash = (p: string) => (p.endsWith('/') ? p : p + '/')

/** The argument vector run on the source; the paths come on stdin. Pure. */
export function followArgv(o: FollowRsyncOptions): string[] {
  const argv = [
    'rsync',
    '-a',
    '-r', // --files-from turns off the recursion -a implies; a directory that appeared is sent whole
    '-s',
    '-8',
    MODIFY_WINDOW,
    // Never --inplace: each file arrives under a hidden name and is renamed over the old one.
    `--partial-dir=${partialDir(o.item)}`,
    '--stats',
    '--no-human-readable',
    `--timeout=${o.ioTimeoutSec}`,
    '-e',
    hopCommand(o),
    ...remoteRsync(o.target),
    ...protectRules([PARTIAL_DIR, ...o.protect]),
    ...(o.item.exclude ?? []).map((x) => `--exclude=${x}`),
    '--files-from=-',
    '--from0',
    // A path gone since its event is no error: for a mirror item it is a deletion request.
    ...(o.deletes ? ['--delete-missing-args', '--force'] : ['--ignore-missing-args']),
  ]
  if (o.backupDir) argv.push('--backup', `--backup-dir=${o.backupDir}`)
  if (o.dryRun) argv.push('--dry-run', '--out-format=%i %n%L')
  argv.push('--', slash(o.item.path), `${o.target.user}@${o.target.address}:${slash(o.item.path)}`)
  return argv
}

/** The batch's list for rsync's stdin: names as bytes, each ended by NUL. */
export const filesFrom = (entries: InflightEntry[]) => Buffer.from(entries.map((e) => e.rel + '\0').join(''), 'latin1')

export interface ShipResult {
  ok: boolean
  link: boolean
  reason?: string
  sent: number
  deleted: number
  bytes: number
  wireBytes: number
  ms: number
  /** Deletions over the limit: none was made, the rest of the batch was shipped. */
  refused?: Refusal
}

/** A whole batch, however big, is bounded by rsync's own --timeout; this only bounds a hung node. */
const HARD_LIMIT_MS = 6 * 3600 * 1000

export async function shipBatch(o: {
  inv: LoadedInventory
  pair: Pair
  src: NodeSession
  target: Node
  item: SyncItem
  protect: string[]
  entries: InflightEntry[]
  ioTimeoutSec: number
  fence: Fence
  /** Share one hop connection between batches (ssh ControlMaster on the source). */
  mux?: boolean
  /** Mirror deletions: the limit, whether --force lifts it, and about how many files the target holds in the item. */
  deletes: { limit: DeleteLimit; force: boolean; held: number }
  backupDir?: string
}): Promise<ShipResult> {
  const t0 = Date.now()
  const ssh = sshSettings(o.inv, o.pair, o.target)
  const base = {
    item: o.item,
    protect: o.protect,
    target: { user: ssh.user, address: peerAddress(o.target), port: ssh.port, hostKeyAlias: hostKeyAlias(o.pair, o.target), become: ssh.become },
    keyFile: o.pair.sync?.nodeKeyFile,
    knownHostsFile: o.pair.sync!.nodeKnownHostsFile!,
    ioTimeoutSec: o.ioTimeoutSec,
    mux: o.mux ? muxPath(stateDir(o.pair)) : undefined,
    backupDir: o.backupDir,
  }
  const input = filesFrom(o.entries)
  const run = async (argv: string[]) => {
    const r = await o.src.run({ script: o.fence.wrap(o.src.name, argv) }, { check: false, timeoutMs: HARD_LIMIT_MS, input })
    if (r.code === STOPPED_EXIT) throw o.fence.stoppedBy(o.src.name, r.stdout)
    if (r.signal) await o.fence.check(o.src.name)
    return r
  }
  const gone = o.entries.filter((e) => e.change === 'gone')
  let deletes = !!o.item.mirror && gone.length > 0
  let refused: Refusal | undefined
  // A few deletions of plain files cannot break the limit; a directory or many of them might, so they are counted first.
  if (deletes && !o.deletes.force && (gone.length > Math.min(o.deletes.limit.count, SHARE_MIN_FILES) || gone.some((e) => e.dir))) {
    const dry = await run(followArgv({ ...base, deletes: true, dryRun: true }))
    const v = classifyExit(dry.code, dry.stderr, dry.signal)
    if (!v.ok) return { ok: false, link: v.link, reason: v.reason, sent: 0, deleted: 0, bytes: 0, wireBytes: 0, ms: Date.now() - t0 }
    const paths = deletedPaths(parseItemized(dry.stdout)).sort()
    const files = paths.filter((p) => !p.endsWith('/')).length
    const held = Math.max(o.deletes.held, files)
    const why = overLimit(files, held, o.deletes.limit)
    if (why) {
      refused = refusal(paths, held, why)
      deletes = false
    }
  }
  const r = await run(followArgv({ ...base, deletes }))
  const v = classifyExit(r.code, r.stderr, r.signal)
  const s = parseStats(r.stdout)
  return {
    ok: v.ok,
    link: v.link,
    reason: v.ok ? v.warning : v.reason,
    sent: s.transferred,
    deleted: s.deleted,
    bytes: s.literal,
    wireBytes: s.sent,
    ms: Date.now() - t0,
    refused,
  }
}
