import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { inForce, parseFor, parsePause } from '../../lib/watch/pause.ts'

test('durations', () => {
  assert.is(parseFor('30m'), 1_800_000)
  assert.is(parseFor('2h'), 7_200_000)
  assert.is(parseFor('90s'), 90_000)
  assert.is(parseFor('500ms'), 500)
  for (const bad of ['', '30', 'm', '-5m', '1.5h', '0s', '31d', '5 m x']) assert.is(parseFor(bad), undefined, bad)
})

test('records: only well-formed ones count', () => {
  assert.ok(parsePause('{"paused":true,"at":"2026-12-02T10:00:00Z","by":"op"}'))
  assert.is(parsePause('{"paused":"yes","at":"2026-12-02T10:00:00Z"}'), undefined)
  assert.is(parsePause('{"paused":true,"at":"yesterday"}'), undefined)
  assert.is(parsePause('{"paused":true,"at":"2026-12-02T10:00:00Z","until":"later"}'), undefined)
  assert.is(parsePause('not json'), undefined)
  assert.is(parsePause(''), undefined)
})

test('in force: paused and not over', () => {
  const now = Date.parse('2026-12-02T12:00:00Z')
  assert.ok(inForce({ paused: true, at: '2026-12-02T11:00:00Z', by: 'x' }, now))
  assert.ok(inForce({ paused: true, at: '2026-12-02T11:00:00Z', by: 'x', until: '2026-12-02T12:30:00Z' }, now))
  assert.not.ok(inForce({ paused: true, at: '2026-12-02T11:00:00Z', by: 'x', until: '2026-12-02T11:30:00Z' }, now))
  assert.not.ok(inForce({ paused: false, at: '2026-12-02T11:00:00Z', by: 'x' }, now))
  assert.not.ok(inForce(undefined, now))
})

test.run()
