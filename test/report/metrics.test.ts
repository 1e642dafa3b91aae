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
  assert.equal(
    fams.map((f) => f.name),
    Object.values(METRICS).map((m) => m.name),
  )
  for (const f of fams) assert.is(f.type, 'GAUGE')
  const ok = fams.find((f) => f.name === 'hapair_check_ok')!
  assert.is(ok.metrics.length, 5)
  assert.equal(ok.metrics[3], { value: '0', labels: { pair: 'demo', node: 'node-b', check: 'sync-drift' } })
  const dur = fams.find((f) => f.name === 'hapair_check_duration_seconds')!
  assert.is(dur.metrics[3].value, '0.211')
  // Run-level series are per pair too: one run's verdict for each pair it covered.
  const run = fams.find((f) => f.name === 'hapair_run_ok')!
  assert.equal(run.metrics, [
    { value: '0', labels: { playbook: 'verify', pair: 'demo' } },
    { value: '0', labels: { playbook: 'verify', pair: 'other' } },
  ])
})

test('metrics: a pair whose every check passed has run_ok 1 while another pair fails', () => {
  const fams = parsePrometheus(
    formatMetrics(
      sample.filter((r) => r.pair === 'other' || r.ok),
      { playbook: 'verify', now },
    ),
  )
  const run = fams.find((f) => f.name === 'hapair_run_ok')!.metrics
  assert.equal(
    run.map((m) => [m.labels!.pair, m.value]),
    [
      ['demo', '1'],
      ['other', '0'],
    ],
  )
})

test('metrics: a pair the run covered but that produced no result still reports its run', () => {
  const fams = parsePrometheus(
    formatMetrics(
      sample.filter((r) => r.pair === 'demo'),
      { playbook: 'backup-verify', now, pairs: ['demo', 'empty'] },
    ),
  )
  const at = fams.find((f) => f.name === 'hapair_run_timestamp_seconds')!.metrics
  assert.equal(
    at.map((m) => m.labels),
    [
      { playbook: 'backup-verify', pair: 'demo' },
      { playbook: 'backup-verify', pair: 'empty' },
    ],
  )
  assert.equal(
    fams.find((f) => f.name === 'hapair_run_ok')!.metrics.map((m) => m.value),
    ['0', '1'],
  )
})

// node_exporter's textfile collector merges every *.prom file of its directory and drops the
// whole scrape's textfile metrics when one series (name and label values) appears twice.
test('metrics: per-pair files of both playbooks share no series, so node_exporter can read them together', () => {
  const files = ['demo', 'other'].flatMap((pair) =>
    ['verify', 'backup-verify'].map((playbook) =>
      // backup-verify names its steps BACKUP:STEP, never a verify check's name.
      formatMetrics(
        sample.filter((r) => r.pair === pair).map((r) => (playbook === 'verify' ? r : { ...r, check: `app:${r.check}` })),
        { playbook, now, pairs: [pair] },
      ),
    ),
  )
  const seen = new Set<string>()
  for (const f of files) {
    for (const fam of parsePrometheus(f)) {
      for (const m of fam.metrics) {
        const id = JSON.stringify([fam.name, Object.entries(m.labels ?? {}).sort()])
        assert.not.ok(seen.has(id), `duplicate series ${id}`)
        seen.add(id)
        assert.ok(m.labels?.pair, `${fam.name} without a pair label`)
      }
    }
  }
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
  const back = parseLastSuccess(
    '# HELP x\nhapair_check_ok{pair="a",node="b",check="c"} 1\nnonsense\nhapair_check_last_success_timestamp_seconds{pair="a",node="b",check="c"} NaNx\n',
  )
  assert.is(back.size, 0)
})

test.run()
