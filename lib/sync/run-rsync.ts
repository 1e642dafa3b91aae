// One item to one target over rsync: the controller sends one argument vector to the source
// node (each word quoted by lib/ssh.ts), and rsync goes from there straight to the target.
import { RemoteError } from '../errors.ts'
import { sshSettings, type LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair, SyncItem } from '../inventory/schema.ts'
import type { NodeSession } from '../ssh.ts'
import { classifyExit, parseItemized, parseStats, rsyncArgv } from './rsync.ts'

export interface RsyncOutcome {
  ok: boolean
  link: boolean
  reason?: string
  files: number; sent: number; deleted: number; unchanged: number; bytes: number; wireBytes: number
  changes?: string[]
}

/** A whole item may take long; rsync's own --timeout notices a dead link, this only bounds a hung node. */
const HARD_LIMIT_MS = 24 * 3600 * 1000

export async function rsyncItem(o: {
  inv: LoadedInventory; pair: Pair; src: NodeSession; target: Node; item: SyncItem; protect: string[]
  dryRun: boolean; ioTimeoutSec: number
}): Promise<RsyncOutcome> {
  const ssh = sshSettings(o.inv, o.pair, o.target)
  const argv = rsyncArgv({
    item: o.item, protect: o.protect,
    target: { user: ssh.user, address: o.target.address, port: ssh.port },
    keyFile: o.pair.sync?.nodeKeyFile, knownHostsFile: o.pair.sync!.nodeKnownHostsFile!,
    dryRun: o.dryRun, ioTimeoutSec: o.ioTimeoutSec,
  })
  let r
  try {
    r = await o.src.run(argv, { check: false, timeoutMs: HARD_LIMIT_MS })
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e
    // The controller lost the source, not necessarily the target: an error, not a held change.
    return { ok: false, link: false, reason: `lost the source node while rsync ran: ${e.message}`, files: 0, sent: 0, deleted: 0, unchanged: 0, bytes: 0, wireBytes: 0 }
  }
  const v = classifyExit(r.code, r.stderr, r.signal)
  const s = parseStats(r.stdout)
  return {
    ok: v.ok, link: v.link, reason: v.ok ? v.warning : v.reason,
    files: s.files, sent: s.transferred, deleted: s.deleted, unchanged: Math.max(0, s.files - s.transferred),
    bytes: s.literal, wireBytes: s.sent,
    changes: o.dryRun ? parseItemized(r.stdout) : undefined,
  }
}
