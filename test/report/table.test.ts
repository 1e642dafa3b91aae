import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatTable, groupForTable } from '../../lib/report/table.ts'
import { sample } from './fixtures.ts'

test('groups by pair in first-seen order, failures first, order kept inside each group', () => {
  const g = groupForTable(sample)
  assert.equal([...g.keys()], ['demo', 'other'])
  assert.equal(
    g.get('demo')!.map((r) => `${r.node}/${r.check}/${r.ok}`),
    ['node-b/sync-drift/false', 'node-a/links/true', 'node-b/links/true', 'node-a/sync-drift/true'],
  )
})

test('table: header per pair with counts, FAIL rows first with their detail, summary last', () => {
  const lines = formatTable(sample).split('\n')
  assert.is(lines[0], 'pair demo: 1 of 4 FAILED')
  assert.match(lines[2], /^  FAIL  node-b  sync-drift  211 +app: 1 entry differs/)
  assert.match(lines[3], /^  ok    node-a  links/)
  assert.ok(lines.includes('pair other: 1 of 1 FAILED'))
  assert.is(lines[lines.length - 1], '2 of 5 checks failed')
})

test('a detail with newlines stays on one row', () => {
  const text = formatTable(sample)
  assert.match(text, /unreachable: x-1: timed out \/ second line/)
  assert.not.match(text, /\nsecond line/)
})

test('all passing and empty runs say so', () => {
  assert.match(formatTable(sample.filter((r) => r.ok)), /all 3 checks passed$/)
  assert.match(formatTable(sample.filter((r) => r.ok)), /^pair demo: all 3 passed/)
  assert.is(formatTable([]), 'verify: no checks ran')
})

test('a title prefixes each pair header', () => {
  assert.match(formatTable(sample, { title: 'backup-verify' }), /^backup-verify pair demo: 1 of 4 FAILED/)
})

test.run()
