// What hapair remembers lives on the nodes themselves (not on one controller), so every
// operator's machine and every CI job sees the same truth: the active node with its epoch,
// the degraded mark, the last sync and verify times. Records say what was intended; they are
// checked on every read, and a bad one is reported by file and node, never believed.
import { stateDir } from './inventory/load.ts'
import type { Pair } from './inventory/schema.ts'
import { sh } from './shell.ts'
import type { NodeSession } from './ssh.ts'

/** Who is active, decided by the failover with the highest epoch. */
export interface ActiveRecord {
  epoch: number
  active: string
  since: string
  by: string
  from?: string
}
export interface DegradedRecord {
  since: string
  reason: string
  pending: Record<string, string[]>
}
export interface SyncRecord {
  items: Record<string, Record<string, string>>
}
export interface VerifyRecord {
  at: string
  ok: boolean
  failed: string[]
}
/** Per error log: where the last verify stopped reading (inode + byte offset, so rotation is noticed). */
export interface LogOffsets {
  logs: Record<string, { inode: number; offset: number; at: string }>
}

export interface NodeState {
  active?: ActiveRecord
  degraded?: DegradedRecord
  sync?: SyncRecord
  verify?: VerifyRecord
  logOffsets?: LogOffsets
}

/** A record that failed its check: which file, and why (for a person). */
export interface BadRecord {
  file: string
  why: string
}
export type ReadState = NodeState & { corrupt: string[]; bad: BadRecord[] }

/** File names of the records in a pair's state directory on each node. */
export const STATE_FILES = {
  active: 'active.json',
  degraded: 'degraded.json',
  sync: 'sync.json',
  verify: 'verify.json',
  logOffsets: 'log-offsets.json',
} as const
export type StateFile = keyof typeof STATE_FILES

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isTime = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v))
const show = (v: unknown) => JSON.stringify(v)?.slice(0, 40) ?? String(v)

/** Epochs are positive safe integers: a string, a float or 1e300 is never an epoch. */
export const isEpoch = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0

/** Checks an active.json body against the pair: the reason it is unusable, or undefined. */
export function checkActive(v: unknown, pair: Pair): string | undefined {
  const names = pair.nodes.map((n) => n.name)
  if (!isObj(v)) return 'not a JSON object'
  if (!isEpoch(v.epoch)) return `epoch must be a positive integer (got ${show(v.epoch)})`
  if (typeof v.active !== 'string' || !names.includes(v.active))
    return `active must name a node of pair ${pair.name} (${names.join(', ')}); got ${show(v.active)}`
  if (v.from !== undefined && (typeof v.from !== 'string' || !names.includes(v.from))) return `from must name a node of pair ${pair.name}; got ${show(v.from)}`
  if (!isTime(v.since)) return `since must be a timestamp (got ${show(v.since)})`
  if (v.by !== undefined && typeof v.by !== 'string') return 'by must be a string'
  return undefined
}

/** The shape checks of the other records: enough that a reader never trips over them. */
const CHECKS: Record<StateFile, (v: unknown, pair: Pair) => string | undefined> = {
  active: checkActive,
  degraded: (v) => (!isObj(v) || !isObj(v.pending) || !isTime(v.since) ? 'needs since (a timestamp) and pending (an object)' : undefined),
  sync: (v) => (!isObj(v) || !isObj(v.items) ? 'needs items (an object)' : undefined),
  verify: (v) => (!isObj(v) || !isTime(v.at) || typeof v.ok !== 'boolean' ? 'needs at (a timestamp) and ok (a boolean)' : undefined),
  logOffsets: (v) => (!isObj(v) || !isObj(v.logs) ? 'needs logs (an object)' : undefined),
}

/** Parses one record's text: the value, or why it cannot be used. Pure, so it is tested on its own. */
export function parseRecord<K extends StateFile>(key: K, text: string, pair: Pair): { value?: NodeState[K]; why?: string } {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    return { why: `not valid JSON (${text.length} bytes: ${(e as Error).message})` }
  }
  const why = CHECKS[key](v, pair)
  return why ? { why } : { value: v as NodeState[K] }
}

/**
 * The remote half of readNodeState: prints each of `keys`' files (those that exist) as
 * NAME \x1e BODY \x1f, always exiting 0. Shared with the watcher's combined read
 * (lib/watch/refresh.ts), so both ask the node the same way and parse with parseNodeState.
 */
export function nodeStateScript(pair: Pair, keys: readonly StateFile[] = Object.keys(STATE_FILES) as StateFile[]): string {
  return sh`cd ${stateDir(pair)} 2>/dev/null || exit 0; for f in ${keys.map((k) => STATE_FILES[k])}; do [ -f "$f" ] && printf '%s\\036' "$f" && cat "$f" && printf '\\037'; done; exit 0`
}

/** What nodeStateScript printed, checked record by record; a bad file is reported in `bad`, never used. Pure. */
export function parseNodeState(stdout: string, pair: Pair): ReadState {
  const dir = stateDir(pair)
  const out: ReadState = { corrupt: [], bad: [] }
  for (const chunk of stdout.split('\x1f')) {
    const [name, body] = chunk.split('\x1e')
    if (body === undefined) continue
    const key = (Object.keys(STATE_FILES) as StateFile[]).find((k) => STATE_FILES[k] === name.trim())
    if (!key) continue
    const { value, why } = parseRecord(key, body, pair)
    if (why) {
      out.corrupt.push(name.trim())
      out.bad.push({ file: `${dir}/${name.trim()}`, why })
    } else (out as any)[key] = value
  }
  return out
}

/** Reads every state file in one round trip; a bad file is reported in `bad`, never used. */
export async function readNodeState(s: NodeSession, pair: Pair, opts: { timeoutMs?: number } = {}): Promise<ReadState> {
  const r = await s.run({ script: nodeStateScript(pair) }, { timeoutMs: opts.timeoutMs })
  return parseNodeState(r.stdout, pair)
}

/**
 * Writes one state file atomically and checked: the temporary copy must be complete (its size
 * is compared) and on disk before it replaces the record; any failure removes the temporary
 * file and fails the call, so a full disk or a file-size limit never leaves a truncated record.
 */
export async function writeNodeState<K extends StateFile>(s: NodeSession, pair: Pair, key: K, value: NodeState[K]): Promise<void> {
  const dir = stateDir(pair)
  const file = `${dir}/${STATE_FILES[key]}`
  const tmp = `${file}.tmp.${process.pid}`
  const body = JSON.stringify(value, null, 2) + '\n'
  const size = Buffer.byteLength(body)
  const script =
    sh`mkdir -p ${dir} && cat > ${tmp} && [ "$(wc -c < ${tmp})" -eq ${String(size)} ] && sync ${tmp} && mv -f ${tmp} ${file}` +
    sh` || { rc=$?; rm -f ${tmp}; echo "writing the record failed" >&2; exit $(( rc ? rc : 1 )); }`
  await s.run({ script }, { input: body })
}

export async function removeNodeState(s: NodeSession, pair: Pair, key: StateFile): Promise<void> {
  await s.run(['rm', '-f', `${stateDir(pair)}/${STATE_FILES[key]}`])
}

/** The record with the highest epoch wins; ties go to the most recent. */
export function newestActive(records: (ActiveRecord | undefined)[]): ActiveRecord | undefined {
  return records.filter((r): r is ActiveRecord => !!r && isEpoch(r.epoch)).sort((a, b) => b.epoch - a.epoch || b.since.localeCompare(a.since))[0]
}
