// After an unplanned takeover, the in-flight list on the new active node names the files the old
// one changed and never shipped: there, they are the only copies of those writes. A failback's
// sync-back would overwrite them with the new node's older versions, so failback asks which
// versions win (--inflight recover|discard) and refuses without an answer. Recover ships the old
// node's versions of exactly those paths to the active node first, over the same node-to-node
// rsync as the follower (pinned hop, protect and exclude rules, atomic per-file replacement),
// keeping every file it replaces in a backup directory on the active node; the sync-back then
// carries them everywhere. Deletions are never recovered: a path the old node deleted stays.
import { stateDir, type LoadedInventory } from '../../inventory/load.ts'
import type { Pair } from '../../inventory/schema.ts'
import { RefusedError } from '../../errors.ts'
import { sh } from '../../shell.ts'
import type { SshPool } from '../../ssh.ts'
import { deleteLimit } from '../delete-guard.ts'
import { itemScope } from '../filters.ts'
import { takeFence } from '../lease.ts'
import { ensurePinned } from '../pin.ts'
import type { Change } from './events.ts'
import { INFLIGHT_FILE, type InflightRecord, type InflightEntry } from './inflight.ts'
import { shipBatch } from './ship.ts'

export type InflightMode = 'recover' | 'discard'
export const INFLIGHT_MODES: InflightMode[] = ['recover', 'discard']

/** What the active node owes the node being failed back to, when there is anything: the record's paths per item. Pure. */
export function owedBy(rec: InflightRecord, pair: Pair): Map<string, { rel: string; change: Change }[]> {
  const out = new Map<string, { rel: string; change: Change }[]>()
  for (const p of rec.paths) {
    const item = pair.sync?.items.find((i) => i.name === p.item)
    if (!item) continue
    const root = item.path.replace(/\/+$/, '') + '/'
    if (!p.path.startsWith(root)) continue
    const list = out.get(item.name) ?? []
    list.push({ rel: p.path.slice(root.length), change: p.change })
    out.set(item.name, list)
  }
  return out
}

export interface Recovery {
  sent: number
  skippedDeletes: number
  backupDir: string
  items: string[]
}

/**
 * Ships `rec.source`'s versions of the listed paths to `rec.node` (the active node). The caller
 * holds the pair's lock. Throws RefusedError when a transfer fails: nothing is overwritten by a
 * sync-back whose recovery did not finish.
 */
export async function recoverInflight(inv: LoadedInventory, pool: SshPool, pair: Pair, rec: InflightRecord, now = new Date()): Promise<Recovery> {
  const source = pair.nodes.find((n) => n.name === rec.source)!
  const target = pair.nodes.find((n) => n.name === rec.node)!
  const backupRoot = `${stateDir(pair)}/inflight-replaced/${now.toISOString().replace(/[:.]/g, '-')}`
  // The hop from the old active node is pinned like any sync's (a missing pin comes from the controller's).
  const src = pool.session(pair, source.name)
  const nodeFile = pair.sync?.nodeKnownHostsFile
  if (!nodeFile)
    throw new RefusedError(
      `refused: pair ${pair.name} has no sync.nodeKnownHostsFile, so ${source.name} cannot ship to ${target.name} over a pinned hop; nothing was synced back`,
    )
  await ensurePinned(src, inv, pair, target, nodeFile, (await src.run({ script: sh`cat ${nodeFile} 2>/dev/null; true` })).stdout, false)
  const { fence } = await takeFence(pool, pair, [source.name], { lockHeld: true })
  const out: Recovery = { sent: 0, skippedDeletes: 0, backupDir: `${target.name}:${backupRoot}`, items: [] }
  try {
    for (const [name, paths] of owedBy(rec, pair)) {
      const item = pair.sync!.items.find((i) => i.name === name)!
      const keep = paths.filter((p) => p.change !== 'gone')
      out.skippedDeletes += paths.length - keep.length
      if (!keep.length) continue
      const entries: InflightEntry[] = keep.map((p, i) => ({
        item: name,
        rel: Buffer.from(p.rel, 'utf8').toString('latin1'),
        change: p.change,
        dir: p.change === 'tree',
        seq: i,
        since: 0,
        at: 0,
      }))
      const r = await shipBatch({
        inv,
        pair,
        src,
        target,
        item,
        protect: itemScope(pair, item).protect,
        entries,
        ioTimeoutSec: 30,
        fence,
        deletes: { limit: deleteLimit(pair, item), force: false, held: 0 },
        backupDir: `${backupRoot}/${name}`,
      })
      if (!r.ok)
        throw new RefusedError(
          `refused: recovering ${keep.length} in-flight path(s) of ${name} from ${source.name} to ${target.name} failed (${r.reason}); nothing was synced back, ${source.name} still has its versions`,
        )
      out.sent += r.sent
      out.items.push(name)
    }
  } finally {
    await fence.end()
  }
  return out
}

/** Once the failback has settled them, the list is kept under a dated name, so status no longer reports it. */
export async function archiveInflight(pool: SshPool, pair: Pair, node: string, mode: InflightMode, now = new Date()): Promise<string> {
  const dir = stateDir(pair)
  const to = `${dir}/inflight-${mode === 'recover' ? 'recovered' : 'discarded'}-${now.toISOString().replace(/[:.]/g, '-')}.json`
  await pool.session(pair, node).run({ script: sh`[ ! -f ${`${dir}/${INFLIGHT_FILE}`} ] || mv -f ${`${dir}/${INFLIGHT_FILE}`} ${to}` })
  return `${node}:${to}`
}
