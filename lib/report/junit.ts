// JUnit XML: one testsuite per pair, one testcase per (node, check), so Jenkins, GitLab and
// GitHub test reporters show every check natively. Pure: results in, XML text out.
import type { CheckResult } from './types.ts'

// XML 1.0 cannot carry most control characters even escaped; a stray byte from a remote
// error message must not make the whole report unreadable to the CI.
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g

export function xmlEscape(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

const secs = (ms: number) => (ms / 1000).toFixed(3)

export function formatJunit(results: CheckResult[], opts: { name?: string; timestamp?: Date } = {}): string {
  const name = opts.name ?? 'hapair verify'
  const stamp = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, '')
  const byPair = new Map<string, CheckResult[]>()
  for (const r of results) {
    if (!byPair.has(r.pair)) byPair.set(r.pair, [])
    byPair.get(r.pair)!.push(r)
  }
  const total = (rs: CheckResult[]) => rs.reduce((t, r) => t + r.ms, 0)
  const failures = (rs: CheckResult[]) => rs.filter((r) => !r.ok).length
  const out = ['<?xml version="1.0" encoding="UTF-8"?>']
  out.push(`<testsuites name="${xmlEscape(name)}" tests="${results.length}" failures="${failures(results)}" errors="0" time="${secs(total(results))}">`)
  for (const [pair, rs] of byPair) {
    out.push(
      `  <testsuite name="${xmlEscape(`${name}: ${pair}`)}" tests="${rs.length}" failures="${failures(rs)}" errors="0" skipped="0" time="${secs(total(rs))}" timestamp="${stamp}">`,
    )
    for (const r of rs) {
      const head = `    <testcase classname="${xmlEscape(`${pair}.${r.node}`)}" name="${xmlEscape(r.check)}" time="${secs(r.ms)}">`
      // A passing check's detail is still worth reading (finish time of the backup, skew measured).
      const body = r.ok
        ? `      <system-out>${xmlEscape(r.detail)}</system-out>`
        : `      <failure message="${xmlEscape(r.detail)}" type="${xmlEscape(r.check)}">${xmlEscape(`${r.node}: ${r.check}: ${r.detail}`)}</failure>`
      out.push(head, body, '    </testcase>')
    }
    out.push('  </testsuite>')
  }
  out.push('</testsuites>')
  return out.join('\n') + '\n'
}
