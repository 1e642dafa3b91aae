// What hapair remembers lives on the nodes themselves (not on one controller), so every
// operator's machine and every CI job sees the same truth: the active node with its epoch,
// the degraded mark, the last sync and verify times.
import { stateDir } from './inventory/load.ts'
import type { Pair } from './inventory/schema.ts'
import { sh } from './shell.ts'
import type { NodeSession } from './ssh.ts'

/** Who is active, decided by the failover with the highest epoch. */
export interface ActiveRecord { epoch: number; active: string; since: string; by: string; from?: string }
export interface DegradedRecord { since: string; reason: string; pending: Record<string, string[]> }
export interface SyncRecord { items: Record<string, Record<string, string>> }
export interface VerifyRecord { at: string; ok: boolean; failed: string[] }
/** Per error log: where the last verify stopped reading (inode + byte offset, so rotation is noticed). */
export interface LogOffsets { logs: Record<string, { inode: number; offset: number; at: string }> }

export interface NodeState {
  active?: ActiveRecord
  degraded?: DegradedRecord
  sync?: SyncRecord
  verify?: VerifyRecord
  logOffsets?: LogOffsets
}

/** File names of the records in a pair's state directory on each node. */
export const STATE_FILES = { active: 'active.json', degraded: 'degraded.json', sync: 'sync.json', verify: 'verify.json', logOffsets: 'log-offsets.json' } as const
export type StateFile = keyof typeof STATE_FILES

/** Reads every state file in one round trip; a corrupt file reads as absent (and is reported). */
export async function readNodeState(s: NodeSession, pair: Pair): Promise<NodeState & { corrupt: string[] }> {
  const dir = stateDir(pair)
  const script = sh`cd ${dir} 2>/dev/null || exit 0; for f in ${Object.values(STATE_FILES)}; do [ -f "$f" ] && printf '%s\\036' "$f" && cat "$f" && printf '\\037'; done; exit 0`
  const r = await s.run({ script })
  const out: NodeState & { corrupt: string[] } = { corrupt: [] }
  for (const chunk of r.stdout.split('\x1f')) {
    const [name, body] = chunk.split('\x1e')
    if (body === undefined) continue
    const key = (Object.keys(STATE_FILES) as StateFile[]).find((k) => STATE_FILES[k] === name.trim())
    if (!key) continue
    try { (out as any)[key] = JSON.parse(body) } catch { out.corrupt.push(name.trim()) }
  }
  return out
}

/** Writes one state file atomically (temp file + rename in the same directory). */
export async function writeNodeState<K extends StateFile>(s: NodeSession, pair: Pair, key: K, value: NodeState[K]): Promise<void> {
  const dir = stateDir(pair)
  const file = `${dir}/${STATE_FILES[key]}`
  const tmp = `${file}.tmp.${process.pid}`
  await s.run({ script: sh`mkdir -p ${dir} && cat > ${tmp} && sync ${tmp} 2>/dev/null; mv -f ${tmp} ${file}` }, { input: JSON.stringify(value, null, 2) + '\n' })
}

export async function removeNodeState(s: NodeSession, pair: Pair, key: StateFile): Promise<void> {
  await s.run(['rm', '-f', `${stateDir(pair)}/${STATE_FILES[key]}`])
}

/** The record with the highest epoch wins; ties go to the most recent. */
export function newestActive(records: (ActiveRecord | undefined)[]): ActiveRecord | undefined {
  return records.filter((r): r is ActiveRecord => !!r && typeof r.epoch === 'number')
    .sort((a, b) => b.epoch - a.epoch || b.since.localeCompare(a.since))[0]
}
