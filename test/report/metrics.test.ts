import { createRequire } from 'node:module'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { escapeLabel, formatMetrics, parseLastSuccess, METRICS } from '../../lib/report/metrics.ts'
import { sample } from './fixtures.ts'

// An independent parser of the exposition format: what Prometheus tooling would read.
const parsePrometheus: (text: string) => { name: string; help: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }[] =
  createRequire(import.meta.url)('parse-prometheus-text-format')

const now = new Date('2024-05-02T00:23:41Z')
const T = now.getTime() / 1000

test('metrics: every family has HELP and TYPE gauge, one sample per check', () => {
  const fams = parsePrometheus(formatMetrics(sample, { playbook: 'verify', now }))
  assert.equal(fams.map((f) => f.name), Object.values(METRICS).map((m) => m.name))
  for (const f of fams) assert.is(f.type, 'GAUGE')
  const ok = fams.find((f) => f.name === 'hapair_check_ok')!
  assert.is(ok.metrics.length, 5)
  assert.equal(ok.metrics[3], { value: '0', labels: { pair: 'demo', node: 'node-b', check: 'sync-drift' } })
  const dur = fams.find((f) => f.name === 'hapair_check_duration_seconds')!
  assert.is(dur.metrics[3].value, '0.211')
  const run = fams.find((f) => f.name === 'hapair_run_ok')!
  assert.equal(run.metrics, [{ value: '0', labels: { playbook: 'verify' } }])
})

test('metrics: last success is now for passing checks, carried over for failing ones, 0 when never', () => {
  const previous = new Map([[JSON.stringify(['demo', 'node-b', 'sync-drift']), 1700000000]])
  const fams = parsePrometheus(formatMetrics(sample, { playbook: 'verify', now, previous }))
  const last = fams.find((f) => f.name === 'hapair_check_last_success_timestamp_seconds')!.metrics
  assert.is(Number(last[0].value), T)
  assert.is(Number(last[3].value), 1700000000)
  assert.is(Number(last[4].value), 0)
})

test('metrics: parseLastSuccess reads back what formatMetrics wrote, odd labels included', () => {
  const odd = [{ pair: 'p', node: 'n"1\\x', check: 'a\nb', ok: true, detail: '', ms: 1 }]
  const text = formatMetrics([...sample, ...odd], { playbook: 'verify', now })
  const back = parseLastSuccess(text)
  assert.is(back.get(JSON.stringify(['demo', 'node-a', 'links'])), T)
  assert.is(back.get(JSON.stringify(['p', 'n"1\\x', 'a\nb'])), T)
  assert.not.ok(back.has(JSON.stringify(['other', 'x-1', 'paths'])) && back.get(JSON.stringify(['other', 'x-1', 'paths'])) !== 0)
  const fams = parsePrometheus(text)
  const labels = fams[0].metrics.at(-1)!.labels!
  assert.is(labels.node, 'n"1\\x')
})

test('escapeLabel: backslash, quote and newline', () => {
  assert.is(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd')
})

test('parseLastSuccess ignores other metrics, comments and garbage', () => {
  const back = parseLastSuccess('# HELP x\nhapair_check_ok{pair="a",node="b",check="c"} 1\nnonsense\nhapair_check_last_success_timestamp_seconds{pair="a",node="b",check="c"} NaNx\n')
  assert.is(back.size, 0)
})

test.run()
