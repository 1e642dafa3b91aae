// Maintenance pauses live on the nodes, not in one watcher's memory: every watcher of the pair
// (on any host) reads them, and they survive a watcher restart. Pause and resume both write a
// record stamped with its time; the newest stamp on any reachable node wins, so a node that
// missed a resume (unreachable then) cannot pause the pair again when it returns.
import { stateDir } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { RefusedError, RemoteError } from '../errors.ts'
import { sh } from '../shell.ts'
import type { SshPool } from '../ssh.ts'

export interface PauseRecord {
  paused: boolean
  at: string
  by: string
  until?: string
  reason?: string
}

export const pauseFile = (pair: Pair) => `${stateDir(pair)}/watch-pause.json`

export function parsePause(text: string): PauseRecord | undefined {
  try {
    const v = JSON.parse(text) as PauseRecord
    if (typeof v?.paused !== 'boolean' || typeof v.at !== 'string' || Number.isNaN(Date.parse(v.at))) return undefined
    if (v.until !== undefined && (typeof v.until !== 'string' || Number.isNaN(Date.parse(v.until)))) return undefined
    return v
  } catch {
    return undefined
  }
}

/** In force now: paused, and its time (if any) not over. */
export const inForce = (r: PauseRecord | undefined, now = Date.now()) => !!r?.paused && (r.until === undefined || Date.parse(r.until) > now)

/** The remote half of readPause (always exits 0); shared with the watcher's combined read (refresh.ts). */
export const pauseScript = (pair: Pair) => sh`cat ${pauseFile(pair)} 2>/dev/null; exit 0`

/** The record in force: the newest stamp among the nodes' records (unreadable ones are undefined). Pure. */
export const newestPause = (records: (PauseRecord | undefined)[]): PauseRecord | undefined =>
  records.filter((r): r is PauseRecord => !!r).sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0]

export async function readPause(pool: SshPool, pair: Pair): Promise<PauseRecord | undefined> {
  return newestPause(
    await Promise.all(
      pair.nodes.map(async (n) => {
        try {
          const r = await pool.session(pair, n).run({ script: pauseScript(pair) }, { timeoutMs: 2000 })
          return parsePause(r.stdout)
        } catch (e) {
          if (e instanceof RemoteError) return undefined
          throw e
        }
      }),
    ),
  )
}

/** Writes the record on every reachable node; refuses when none could take it. */
export async function writePause(pool: SshPool, pair: Pair, rec: PauseRecord): Promise<{ written: string[]; missed: Record<string, string> }> {
  const file = pauseFile(pair)
  const written: string[] = []
  const missed: Record<string, string> = {}
  await Promise.all(
    pair.nodes.map(async (n) => {
      try {
        await pool
          .session(pair, n)
          .run({ script: sh`mkdir -p ${stateDir(pair)} && cat > ${file}.tmp && mv -f ${file}.tmp ${file}` }, { input: JSON.stringify(rec) + '\n' })
        written.push(n.name)
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        missed[n.name] = e.message
      }
    }),
  )
  if (!written.length)
    throw new RefusedError(`no node of pair ${pair.name} took the ${rec.paused ? 'pause' : 'resume'} record: ${Object.values(missed).join('; ')}`)
  return { written: written.sort(), missed }
}

/** "30m", "2h", "90s", "500ms" -> milliseconds; undefined for anything else. */
export function parseFor(s: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s.trim())
  if (!m) return undefined
  const n = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']
  return n > 0 && n <= 30 * 86_400_000 ? n : undefined
}
