// The in-flight list: per target, every path changed on the active node and not yet confirmed
// on that target. The follower keeps it here (the controller side) and writes each target's
// share to that target (inflight.json in the pair's state dir), so after an unplanned takeover
// the new active node itself says which files the dead one had and it never received.
//
// A path is confirmed for a target when a transfer that started after its last change ended
// well: every change carries a sequence number, a batch remembers the highest one it took,
// and only entries not changed since are dropped. The list may name a path that did arrive
// (the batch that carried it ended unconfirmed: the source was lost under it), never miss one
// the controller heard of.
import { stateDir } from '../../inventory/load.ts'
import type { Pair } from '../../inventory/schema.ts'
import { RemoteError } from '../../errors.ts'
import { sh } from '../../shell.ts'
import type { NodeSession, SshPool } from '../../ssh.ts'
import { display, merge, type Change } from './events.ts'

export interface InflightEntry {
  item: string
  /** Relative to the item root, as bytes (events.ts). */
  rel: string
  change: Change
  dir: boolean
  /** The newest change's sequence number. */
  seq: number
  /** When the oldest unconfirmed change was seen (ms). */
  since: number
  /** When the newest change was seen (ms): an open file is held back from it. */
  at: number
}

export interface Batch {
  target: string
  /** Entries changed after this are not confirmed by it. */
  seq: number
  byItem: Map<string, InflightEntry[]>
  size: number
}

const key = (item: string, rel: string) => `${item}\0${rel}`

export interface TrackerOptions {
  /** A file created and not closed yet waits this long for its close before it ships anyway (a symlink, a hard link, a writer that holds it open). */
  holdOpenMs?: number
  /** Entries one target may owe before the list is given up for full passes (bounded memory). */
  maxPending?: number
}

export class InFlight {
  private seq = 0
  private pending = new Map<string, Map<string, InflightEntry>>()
  /** Per target, items only a full pass makes exact again (overflow, a list given up). */
  private full = new Map<string, Set<string>>()
  private readonly holdOpenMs: number
  private readonly maxPending: number

  constructor(targets: string[], o: TrackerOptions = {}) {
    this.holdOpenMs = o.holdOpenMs ?? 1000
    this.maxPending = o.maxPending ?? 200_000
    for (const t of targets) this.addTarget(t)
  }

  addTarget(t: string): void {
    if (!this.pending.has(t)) {
      this.pending.set(t, new Map())
      this.full.set(t, new Set())
    }
  }

  get targets(): string[] {
    return [...this.pending.keys()]
  }
  get lastSeq(): number {
    return this.seq
  }

  /** A change seen on the active node: owed to every target. */
  note(item: string, rel: string, change: Change, dir: boolean, now: number): void {
    const k = key(item, rel)
    const seq = ++this.seq
    for (const [t, m] of this.pending) {
      if (this.full.get(t)!.has(item)) continue // a full pass is owed: it covers this path too
      const prev = m.get(k)
      m.set(k, { item, rel, change: merge(prev?.change, change), dir: dir || (prev?.dir ?? false), seq, since: prev?.since ?? now, at: now })
      if (m.size > this.maxPending) this.needFull(t, [...new Set([...m.values()].map((e) => e.item))])
    }
  }

  /** Items of target that only a full pass makes exact; their listed entries are dropped (the pass covers them). */
  needFull(target: string, items: string[]): void {
    const f = this.full.get(target)!
    const m = this.pending.get(target)!
    for (const i of items) f.add(i)
    for (const [k, e] of m) if (f.has(e.item)) m.delete(k)
  }

  fullOwed(target: string): string[] {
    return [...(this.full.get(target) ?? [])].sort()
  }

  /** A full pass of these items that started when lastSeq was `seq` ended well: it carried every change up to there. */
  fullDone(target: string, items: string[], seq: number): void {
    const f = this.full.get(target)!
    const m = this.pending.get(target)!
    for (const i of items) f.delete(i)
    for (const [k, e] of m) if (items.includes(e.item) && e.seq <= seq) m.delete(k)
  }

  /** What target owes that is ready to ship now (open files wait for their close, up to holdOpenMs). */
  take(target: string, now: number, items?: string[]): Batch {
    const byItem = new Map<string, InflightEntry[]>()
    let size = 0
    for (const e of this.pending.get(target)?.values() ?? []) {
      if (items && !items.includes(e.item)) continue
      if (e.change === 'open' && now - e.at < this.holdOpenMs) continue
      let list = byItem.get(e.item)
      if (!list) byItem.set(e.item, (list = []))
      list.push(e)
      size++
    }
    return { target, seq: this.seq, byItem, size }
  }

  /** The batch's entries of `item` arrived (or are not meant to go): drop those not changed since. */
  confirm(batch: Batch, item: string, only?: (e: InflightEntry) => boolean): number {
    const m = this.pending.get(batch.target)!
    let n = 0
    for (const e of batch.byItem.get(item) ?? []) {
      if (only && !only(e)) continue
      const now = m.get(key(e.item, e.rel))
      if (now && now.seq <= batch.seq) {
        m.delete(key(e.item, e.rel))
        n++
      }
    }
    return n
  }

  /** Entries waiting for their close: when the next one may be ready (ms from now), or undefined. */
  nextOpenReady(target: string, now: number): number | undefined {
    let best: number | undefined
    for (const e of this.pending.get(target)?.values() ?? []) {
      if (e.change !== 'open') continue
      const left = Math.max(0, this.holdOpenMs - (now - e.at))
      if (best === undefined || left < best) best = left
    }
    return best
  }

  count(target: string): number {
    return this.pending.get(target)?.size ?? 0
  }

  /** Seconds since the oldest unconfirmed change for target (0 when nothing is owed). */
  lagSeconds(target: string, now: number): number {
    let oldest = Infinity
    for (const e of this.pending.get(target)?.values() ?? []) if (e.since < oldest) oldest = e.since
    return oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000)
  }

  entries(target: string): InflightEntry[] {
    return [...(this.pending.get(target)?.values() ?? [])].sort((a, b) => a.since - b.since || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
  }
}

/** inflight.json on a receiving node: what it had not received from `source` when this was written. */
export interface InflightRecord {
  version: 1
  pair: string
  /** The active node the changes were made on. */
  source: string
  /** Its epoch when the follower started following it. */
  epoch: number
  /** This node: the target that lacks them. */
  node: string
  at: string
  by: string
  /** Paths owed. */
  count: number
  /** Items whose list is not exact (an overflow, or the node was lost long enough to give it up): only a full comparison knows what they lack. */
  incomplete: string[]
  paths: { item: string; path: string; change: Change; since: string }[]
}

export const INFLIGHT_FILE = 'inflight.json'

/** The record for one target, from the tracker. Pure. */
export function inflightRecord(pair: Pair, tracker: InFlight, o: { source: string; epoch: number; node: string; now: number; by: string }): InflightRecord {
  const items = new Map((pair.sync?.items ?? []).map((i) => [i.name, i.path.replace(/\/+$/, '')]))
  const paths = tracker.entries(o.node).map((e) => ({
    item: e.item,
    path: `${items.get(e.item) ?? ''}/${display(e.rel)}`,
    change: e.change,
    since: new Date(e.since).toISOString(),
  }))
  return {
    version: 1,
    pair: pair.name,
    source: o.source,
    epoch: o.epoch,
    node: o.node,
    at: new Date(o.now).toISOString(),
    by: o.by,
    count: paths.length,
    incomplete: tracker.fullOwed(o.node),
    paths,
  }
}

/** Checks a record read from a node: the reason it is unusable, or undefined. */
export function checkInflight(v: unknown, pair: Pair): string | undefined {
  const o = v as Partial<InflightRecord>
  if (!o || typeof o !== 'object' || Array.isArray(o)) return 'not a JSON object'
  const names = pair.nodes.map((n) => n.name)
  if (o.version !== 1) return `version must be 1 (got ${JSON.stringify(o.version)})`
  if (typeof o.source !== 'string' || !names.includes(o.source)) return `source must name a node of pair ${pair.name}`
  if (typeof o.node !== 'string' || !names.includes(o.node)) return `node must name a node of pair ${pair.name}`
  if (!Array.isArray(o.paths) || !o.paths.every((p) => p && typeof p.path === 'string' && typeof p.item === 'string'))
    return 'paths must be a list of { item, path }'
  if (typeof o.count !== 'number' || typeof o.at !== 'string' || Number.isNaN(Date.parse(o.at))) return 'needs count (a number) and at (a timestamp)'
  return undefined
}

/** Writes the record on its node: temporary name, size checked, fsync, rename (as lib/state.ts does). */
export async function writeInflight(s: NodeSession, pair: Pair, rec: InflightRecord, timeoutMs = 10_000): Promise<void> {
  const dir = stateDir(pair)
  const file = `${dir}/${INFLIGHT_FILE}`
  const tmp = `${file}.tmp.${process.pid}`
  const body = JSON.stringify(rec) + '\n'
  const size = Buffer.byteLength(body)
  const script =
    sh`mkdir -p ${dir} && cat > ${tmp} && [ "$(wc -c < ${tmp})" -eq ${String(size)} ] && sync ${tmp} && mv -f ${tmp} ${file}` +
    sh` || { rc=$?; rm -f ${tmp}; echo "writing the in-flight list failed" >&2; exit $(( rc ? rc : 1 )); }`
  await s.run({ script }, { input: body, timeoutMs })
}

export type ReadInflight = InflightRecord | { bad: string } | undefined

/**
 * The in-flight list a node holds: what it had not received from the active node when the
 * follower last wrote it (after a takeover: what the old active node had that this one lacks).
 * undefined when there is none; { bad } when the file cannot be believed. RemoteError when the
 * node cannot be asked.
 */
export async function readInflight(pool: SshPool, pair: Pair, node: string): Promise<ReadInflight> {
  const r = await pool.session(pair, node).run({ script: inflightScript(pair) })
  return parseInflight(r.stdout, pair, node)
}

/** The remote half of readInflight; shared with status's combined read (lib/status-read.ts). */
export function inflightScript(pair: Pair): string {
  const file = `${stateDir(pair)}/${INFLIGHT_FILE}`
  return sh`[ -f ${file} ] || exit 0; printf 'inflight\\036'; cat ${file}`
}

/** What inflightScript printed on `node`, checked. Pure. */
export function parseInflight(stdout: string, pair: Pair, node: string): ReadInflight {
  const file = `${stateDir(pair)}/${INFLIGHT_FILE}`
  if (!stdout.startsWith('inflight\x1e')) return undefined
  const text = stdout.slice('inflight\x1e'.length)
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    return { bad: `${node}: ${file} is not valid JSON (${(e as Error).message})` }
  }
  const why = checkInflight(v, pair)
  return why ? { bad: `${node}: ${file} is unusable: ${why}` } : (v as InflightRecord)
}

/** One line for status, or undefined when nothing is owed. Pure. */
export function describeInflight(pair: Pair, rec: ReadInflight, active: string, first = 5): string | undefined {
  if (!rec) return undefined
  if ('bad' in rec) return rec.bad
  if (rec.count === 0 && rec.incomplete.length === 0) return undefined
  const names = rec.paths
    .slice(0, first)
    .map((p) => p.path)
    .join(', ')
  const more = rec.count > first ? ` and ${rec.count - first} more` : ''
  const inc = rec.incomplete.length ? `; not exact for ${rec.incomplete.join(', ')} (run a full comparison)` : ''
  const list = rec.count ? `: ${names}${more}` : ''
  if (rec.node === active && rec.source !== active) {
    return `${rec.count} path(s) changed on ${rec.source} had not reached ${rec.node} when it took over${list}${inc} (full list: ${rec.node}:${stateDir(pair)}/${INFLIGHT_FILE})`
  }
  return `${rec.count} path(s) in flight from ${rec.source} to ${rec.node} (as of ${rec.at})${list}${inc}`
}

/** Unreachable nodes are skipped: status reports them on their own line. */
export async function readAllInflight(pool: SshPool, pair: Pair, nodes: string[]): Promise<Record<string, ReadInflight>> {
  const out: Record<string, ReadInflight> = {}
  await Promise.all(
    nodes.map(async (n) => {
      try {
        out[n] = await readInflight(pool, pair, n)
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
      }
    }),
  )
  return out
}
