// One item to one target over rsync: the controller sends one argument vector to the source
// node (each word quoted by lib/ssh.ts), and rsync goes from there straight to the target.
import { StringDecoder } from 'node:string_decoder'
import { RemoteError } from '../errors.ts'
import { sshSettings, type LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair, SyncItem } from '../inventory/schema.ts'
import type { Command, NodeSession, RunOptions } from '../ssh.ts'
import { dryRunNote, settleHeldDeletes, type DeleteLimit, type Refusal } from './delete-guard.ts'
import { STOPPED_EXIT, type Fence } from './lease.ts'
import { hostKeyAlias } from './pin.ts'
import { Progress2Splitter, type Progress2 } from './progress.ts'
import { classifyExit, parseItemized, parseStats, parseTransferredSize, rsyncArgv } from './rsync.ts'
import { peerAddress } from '../inventory/peer-address.ts'

export interface RsyncOutcome {
  ok: boolean
  link: boolean
  reason?: string
  files: number
  sent: number
  deleted: number
  unchanged: number
  bytes: number
  wireBytes: number
  changes?: string[]
  /** Dry run: file data a real run would send. */
  dryRunBytes?: number
  /** Mirror deletions over the limit: none was made. */
  refused?: Refusal
}

/** A whole item may take long; rsync's own --timeout notices a dead link, this only bounds a hung node. */
const HARD_LIMIT_MS = 24 * 3600 * 1000

export async function rsyncItem(o: {
  inv: LoadedInventory
  pair: Pair
  src: NodeSession
  target: Node
  item: SyncItem
  protect: string[]
  dryRun: boolean
  ioTimeoutSec: number
  /** Mirror deletions: the limit, and whether --force lifts it. */
  deletes: { limit: DeleteLimit; force: boolean }
  /** The run's lease: rsync starts on the source only while the source is still the active node. */
  fence?: Fence
  /** Fed rsync's progress while the transfer runs (not in a dry run). */
  progress?: { update(p: Progress2): void; done(): void }
}): Promise<RsyncOutcome> {
  const ssh = sshSettings(o.inv, o.pair, o.target)
  const opts = {
    item: o.item,
    protect: o.protect,
    target: { user: ssh.user, address: peerAddress(o.target), port: ssh.port, hostKeyAlias: hostKeyAlias(o.pair, o.target), become: ssh.become },
    keyFile: o.pair.sync?.nodeKeyFile,
    knownHostsFile: o.pair.sync!.nodeKnownHostsFile!,
    dryRun: o.dryRun,
    ioTimeoutSec: o.ioTimeoutSec,
    holdDeletes: !o.deletes.force,
    progress: !!o.progress && !o.dryRun,
  }
  const run = async (argv: string[], progress?: RsyncProgress) => {
    const cmd = o.fence ? { script: o.fence.wrap(o.src.name, argv) } : argv
    const runOpts = { check: false, timeoutMs: HARD_LIMIT_MS }
    const r = progress ? await streamed(o.src, cmd, runOpts, progress) : await o.src.run(cmd, runOpts)
    if (o.fence && r.code === STOPPED_EXIT) throw o.fence.stoppedBy(o.src.name, r.stdout)
    // Killed mid-transfer: by a failover (stopSyncs) when the fence no longer holds, which check() throws.
    if (o.fence && r.signal) await o.fence.check(o.src.name)
    return r
  }
  let r
  try {
    r = await run(rsyncArgv(opts), opts.progress ? o.progress : undefined)
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e
    // The controller lost the source, not necessarily the target: an error, not a held change.
    return {
      ok: false,
      link: false,
      reason: `lost the source node while rsync ran: ${e.message}`,
      files: 0,
      sent: 0,
      deleted: 0,
      unchanged: 0,
      bytes: 0,
      wireBytes: 0,
    }
  }
  const held = o.item.mirror && !o.dryRun && !o.deletes.force ? await settleHeldDeletes(run, opts, r, o.deletes.limit) : undefined
  const v = held?.verdict ?? classifyExit(r.code, r.stderr, r.signal)
  const s = parseStats(r.stdout)
  const changes = o.dryRun ? parseItemized(r.stdout) : undefined
  const note = changes && o.item.mirror && !o.deletes.force ? dryRunNote(changes, r.stdout, o.deletes.limit) : undefined
  return {
    ok: v.ok,
    link: v.link,
    reason: v.ok ? (note ?? v.warning) : v.reason,
    files: s.files,
    sent: s.transferred,
    deleted: held ? held.deleted : s.deleted,
    unchanged: Math.max(0, s.files - s.transferred),
    bytes: s.literal,
    wireBytes: s.sent,
    changes,
    refused: held?.refused,
    ...(o.dryRun ? { dryRunBytes: parseTransferredSize(r.stdout) } : {}),
  }
}

type RsyncProgress = { update(p: Progress2): void; done(): void }

/** run(), but stdout arrives as it is written, so the progress records reach the meter live; the result reads as run()'s. */
async function streamed(src: NodeSession, cmd: Command, opts: RunOptions & { timeoutMs: number }, progress: RsyncProgress) {
  const started = Date.now()
  const split = new Progress2Splitter((p) => progress.update(p))
  const text = new StringDecoder('utf8') // a chunk may end inside a multi-byte name
  const err: Buffer[] = []
  let timer: NodeJS.Timeout | undefined
  try {
    const s = await src.stream(cmd, {
      stdout: (d) => split.push(text.write(d)),
      stderr: (d) => {
        err.push(d)
      },
    })
    s.end() // stdin closed at once, as run() does
    timer = setTimeout(() => s.close(), opts.timeoutMs)
    const { code, signal } = await s.done
    split.push(text.end())
    return { code, signal, stdout: split.output(), stderr: Buffer.concat(err).toString('utf8'), durationMs: Date.now() - started, ok: code === 0 }
  } finally {
    clearTimeout(timer)
    progress.done()
  }
}
