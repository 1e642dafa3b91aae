// Seed 001: "check the error log on both servers for unusual errors". Lines matching the
// declared patterns (and none of the ignore patterns) since the last verify; where each run
// stopped is kept on the node itself (state 'logOffsets'), so any controller picks up there.
// A run reads at most a byte budget and scans under a time bound, saving each log's offset as
// soon as it is scanned: a 700 MB log is worked through over several runs, never "hangs for good".
import { writeNodeState, type LogOffsets } from '../state.ts'
import type { NodeSession } from '../ssh.ts'
import type { Pair } from '../inventory/schema.ts'
import { perNode } from './node.ts'
import { catastrophicPattern } from '../regex-safety.ts'
import { DEFAULT_SCAN_BYTES, DEFAULT_SCAN_MS, parseLogRead, readLogArgs, scanText, type Offset } from './log-scan.ts'
import type { Check, Verdict } from './types.ts'

type ErrorLog = NonNullable<Pair['errorLogs']>[number]

const MAX_LINE = 160
const MiB = 1024 * 1024
const clip = (l: string) => (l.length > MAX_LINE ? l.slice(0, MAX_LINE - 3) + '...' : l)
const mib = (n: number) => `${(n / MiB).toFixed(n < 10 * MiB ? 1 : 0)} MiB`

/** Bytes one run reads per log and the time its patterns may take: HAPAIR_LOG_SCAN_BYTES / HAPAIR_LOG_SCAN_MS override. */
export function scanLimits(env = process.env): { bytes: number; ms: number } {
  const n = (v: string | undefined, d: number) => (v && Number(v) > 0 ? Math.floor(Number(v)) : d)
  return { bytes: n(env.HAPAIR_LOG_SCAN_BYTES, DEFAULT_SCAN_BYTES), ms: n(env.HAPAIR_LOG_SCAN_MS, DEFAULT_SCAN_MS) }
}

function validatePatterns(l: ErrorLog): string[] {
  return [...l.patterns, ...(l.ignore ?? [])].flatMap((p) => {
    try {
      new RegExp(p)
    } catch (e) {
      return [`errorLogs ${l.name}: pattern ${JSON.stringify(p)} is not a valid regular expression: ${(e as Error).message}`]
    }
    return catastrophicPattern(p)
      ? [
          `errorLogs ${l.name}: pattern ${JSON.stringify(p)} nests a quantifier inside a quantified group: it can take exponential time on one line; write it without the nesting`,
        ]
      : []
  })
}

interface LogOutcome {
  ok: boolean
  detail: string
  next?: Offset
}

async function scanLog(s: NodeSession, log: ErrorLog, prev: Offset | undefined, at: string, limits: { bytes: number; ms: number }): Promise<LogOutcome> {
  // latin1: one character per byte, so offsets stay exact whatever bytes the log holds.
  const out = await s.run(readLogArgs(log.path, prev, limits.bytes), { timeoutMs: 600_000, encoding: 'latin1', maxBytes: limits.bytes + 4096 })
  const read = parseLogRead(out.stdout, prev)
  if (read.missing) return { ok: false, detail: `${log.name}: ${log.path} does not exist: check the path in the inventory` }
  const scan = await scanText(read.text, log.patterns, log.ignore, { ms: limits.ms })
  const stopped = scan.timedOutOn !== undefined
  const end = stopped ? read.offsetAt(scan.scannedBytes) : { inode: read.inode, offset: read.nextOffset }
  const next = { ...end, at }
  const since = prev ? `since ${prev.at}` : 'in the whole log (first verify)'
  const rotated = read.rotated ? ', across a rotation' : ''
  const left = stopped ? read.text.length - scan.scannedBytes + read.leftBytes : read.leftBytes
  const rest = left > 0 ? `; ${mib(left)} left to scan next run (at most ${mib(limits.bytes)} per run)` : ''
  if (scan.hitCount) {
    const n = scan.hitCount
    return {
      ok: false,
      next,
      detail: `${log.name}: ${n} line${n > 1 ? 's' : ''} ${since}${rotated} match: "${clip(scan.hits[0])}"${n > 1 ? ` (+${n - 1})` : ''}; read ${log.path} on ${s.name} (the next run starts after them)${rest}`,
    }
  }
  if (stopped)
    return {
      ok: false,
      next,
      detail: `${log.name}: scanning stopped after ${limits.ms} ms (pattern ${JSON.stringify(scan.timedOutOn)} is too slow on this log: simplify it)${rest}`,
    }
  if (left > 0)
    return { ok: false, next, detail: `${log.name}: ${scan.lineCount} line${scan.lineCount === 1 ? '' : 's'} ${since}${rotated} scanned, none unusual${rest}` }
  return { ok: true, next, detail: `${log.name}: ${scan.lineCount} new line${scan.lineCount === 1 ? '' : 's'} ${since}${rotated}, none unusual` }
}

export const errorLogCheck: Check = {
  name: 'error-log',
  summary: 'no line matching the declared patterns was written since the last verify (offsets kept per node, rotation noticed, a byte budget per run)',
  validate: (pair) => (pair.errorLogs ?? []).flatMap(validatePatterns),
  run: (ctx) =>
    perNode(ctx, 'error-log', async (node, s) => {
      const logs = ctx.pair.errorLogs ?? []
      if (logs.length === 0) return { ok: true, detail: 'no error logs declared' }
      const limits = scanLimits()
      const prev = ctx.states[node.name]?.logOffsets?.logs ?? {}
      const next: LogOffsets = { logs: { ...prev } }
      const bad: string[] = []
      const good: string[] = []
      const at = new Date(ctx.now()).toISOString()
      for (const log of logs) {
        const r = await scanLog(s, log, prev[log.name], at, limits)
        ;(r.ok ? good : bad).push(r.detail)
        if (!r.next) continue
        next.logs[log.name] = r.next
        // Saved as it goes: a later log that times out does not throw this one's progress away.
        await writeNodeState(s, ctx.pair, 'logOffsets', next)
      }
      const v: Verdict = bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: good.join('; ') }
      return v
    }),
}
