import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatJson, toJsonReport } from '../../lib/report/json.ts'
import { sample } from './fixtures.ts'

test('json: ok is false when any check failed, and every result is listed with the fixed keys', () => {
  const parsed = JSON.parse(formatJson(sample))
  assert.is(parsed.ok, false)
  assert.is(parsed.checks.length, 5)
  assert.equal(Object.keys(parsed.checks[0]), ['pair', 'node', 'check', 'ok', 'detail', 'ms'])
  assert.equal(parsed.checks[3], { pair: 'demo', node: 'node-b', check: 'sync-drift', ok: false, detail: sample[3].detail, ms: 211 })
})

test('json: ok true when all pass; extra fields do not leak', () => {
  const r = toJsonReport([{ ...sample[0], secret: 'x' } as any])
  assert.is(r.ok, true)
  assert.not.ok('secret' in r.checks[0])
})

test('json: an empty run is ok with no checks', () => {
  assert.equal(toJsonReport([]), { ok: true, checks: [] })
})

test.run()
