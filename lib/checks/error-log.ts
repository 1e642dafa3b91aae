// Seed 001: "check the error log on both servers for unusual errors". Lines matching the
// declared patterns (and none of the ignore patterns) since the last verify; where each run
// stopped is kept on the node itself (state 'logOffsets'), so any controller picks up there.
import { writeNodeState, type LogOffsets } from '../state.ts'
import { perNode } from './node.ts'
import { compilePatterns, matchLines, parseLogRead, readLogArgs } from './log-scan.ts'
import type { Check, Verdict } from './types.ts'

const MAX_LINE = 160
const clip = (l: string) => (l.length > MAX_LINE ? l.slice(0, MAX_LINE - 3) + '...' : l)

export const errorLogCheck: Check = {
  name: 'error-log',
  summary: 'no line matching the declared patterns was written since the last verify (offsets kept per node, rotation noticed)',
  validate: (pair) => (pair.errorLogs ?? []).flatMap((l) => [...l.patterns, ...(l.ignore ?? [])].flatMap((p) => {
    try { new RegExp(p); return [] } catch (e) { return [`errorLogs ${l.name}: pattern ${JSON.stringify(p)} is not a valid regular expression: ${(e as Error).message}`] }
  })),
  run: (ctx) => perNode(ctx, 'error-log', async (node, s) => {
    const logs = ctx.pair.errorLogs ?? []
    if (logs.length === 0) return { ok: true, detail: 'no error logs declared' }
    const prev = ctx.states[node.name]?.logOffsets?.logs ?? {}
    const next: LogOffsets = { logs: { ...prev } }
    const bad: string[] = []
    const good: string[] = []
    const at = new Date(ctx.now()).toISOString()
    for (const log of logs) {
      const read = parseLogRead((await s.run(readLogArgs(log.path, prev[log.name]), { timeoutMs: 600_000 })).stdout)
      if (read.missing) { bad.push(`${log.name}: ${log.path} does not exist: check the path in the inventory`); continue }
      const hits = matchLines(read.lines, compilePatterns(log.patterns, log.ignore))
      const since = prev[log.name] ? `since ${prev[log.name].at}` : 'in the whole log (first verify)'
      const rotated = read.rotated ? ', across a rotation' : ''
      if (hits.length) bad.push(`${log.name}: ${hits.length} line${hits.length > 1 ? 's' : ''} ${since}${rotated} match: "${clip(hits[0])}"${hits.length > 1 ? ` (+${hits.length - 1})` : ''}; read ${log.path} on ${node.name} (the next run starts after them)`)
      else good.push(`${log.name}: ${read.lines.length} new line${read.lines.length === 1 ? '' : 's'} ${since}${rotated}, none unusual`)
      next.logs[log.name] = { inode: read.inode, offset: read.nextOffset, at }
    }
    await writeNodeState(s, ctx.pair, 'logOffsets', next)
    const v: Verdict = bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: good.join('; ') }
    return v
  }),
}
