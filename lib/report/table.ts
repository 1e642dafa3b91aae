// Text for a person: one table per pair, failures first, so the first lines on a terminal
// or in a CI log are the ones that need doing. Pure: results in, text out.
import type { CheckResult } from './types.ts'

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length))
/** A detail is one line by contract; a stray newline from a remote error must not break the table. */
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' / ')

/** Groups by pair in first-seen order; inside a pair, failures first, each group keeping its order. */
export function groupForTable(results: CheckResult[]): Map<string, CheckResult[]> {
  const byPair = new Map<string, CheckResult[]>()
  for (const r of results) {
    if (!byPair.has(r.pair)) byPair.set(r.pair, [])
    byPair.get(r.pair)!.push(r)
  }
  for (const [k, rs] of byPair) byPair.set(k, [...rs.filter((r) => !r.ok), ...rs.filter((r) => r.ok)])
  return byPair
}

export function formatTable(results: CheckResult[], opts: { title?: string } = {}): string {
  const lines: string[] = []
  if (results.length === 0) return `${opts.title ?? 'verify'}: no checks ran`
  for (const [pair, rs] of groupForTable(results)) {
    const failed = rs.filter((r) => !r.ok).length
    const head = `pair ${pair}: ${failed ? `${failed} of ${rs.length} FAILED` : `all ${rs.length} passed`}`
    lines.push(opts.title ? `${opts.title} ${head}` : head)
    const wNode = Math.max(4, ...rs.map((r) => r.node.length))
    const wCheck = Math.max(5, ...rs.map((r) => r.check.length))
    lines.push(`  ${pad('', 4)}  ${pad('node', wNode)}  ${pad('check', wCheck)}  ${pad('ms', 6)}  detail`)
    for (const r of rs) {
      lines.push(`  ${r.ok ? 'ok  ' : 'FAIL'}  ${pad(r.node, wNode)}  ${pad(r.check, wCheck)}  ${pad(String(Math.round(r.ms)), 6)}  ${oneLine(r.detail)}`)
    }
  }
  const failed = results.filter((r) => !r.ok).length
  lines.push(failed ? `${failed} of ${results.length} checks failed` : `all ${results.length} checks passed`)
  return lines.join('\n')
}
