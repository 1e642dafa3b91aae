import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mergeDegraded, mergeSyncTimes } from '../../lib/sync/degraded.ts'
import type { ItemResult, Outcome } from '../../lib/sync/types.ts'

const r = (item: string, target: string, outcome: Outcome, extra: Partial<ItemResult> = {}): ItemResult => ({
  item,
  target,
  outcome,
  transport: 'rsync',
  priority: 0,
  files: 0,
  sent: 0,
  deleted: 0,
  unchanged: 0,
  bytes: 0,
  startedAt: `2030-01-01T00:00:0${item.length}Z`,
  ms: 1,
  ...extra,
})
const NOW = '2030-01-01T12:00:00.000Z'

test('a clean run leaves no mark', () => {
  assert.is(mergeDegraded(undefined, [r('app', 'b', 'ok'), r('cfg', 'b', 'skipped')], NOW), null)
})

test('an unreachable target: its items are pending, the reason names it, since is now', () => {
  const m = mergeDegraded(
    undefined,
    [r('cfg', 'b', 'ok'), r('app', 'c', 'pending', { link: true, reason: 'c unreachable' }), r('cfg', 'c', 'pending', { reason: 'c unreachable' })],
    NOW,
  )
  assert.equal(m, { since: NOW, reason: 'c: c unreachable', pending: { c: ['app', 'cfg'] } })
})

test('held items stay until delivered: a partial run keeps the rest and the original since', () => {
  const prev = { since: '2029-12-31T00:00:00Z', reason: 'b: lost', pending: { b: ['app', 'cfg'], c: ['app'] } }
  const m = mergeDegraded(prev, [r('cfg', 'b', 'ok')], NOW)
  assert.equal(m, { since: prev.since, reason: 'b: lost', pending: { b: ['app'], c: ['app'] } })
  const cleared = mergeDegraded(m!, [r('app', 'b', 'ok'), r('app', 'c', 'ok')], NOW)
  assert.is(cleared, null)
})

test('an item a policy now skips is no longer owed; a failure (not only a link loss) is', () => {
  const prev = { since: 'x', reason: 'y', pending: { b: ['app'] } }
  assert.is(mergeDegraded(prev, [r('app', 'b', 'skipped')], NOW), null)
  const m = mergeDegraded(undefined, [r('app', 'b', 'failed', { reason: 'rsync exit 23: disk full' })], NOW)
  assert.equal(m?.pending, { b: ['app'] })
  assert.match(m!.reason, 'disk full')
})

test('dry-run results change nothing', () => {
  const prev = { since: 'x', reason: 'y', pending: { b: ['app'] } }
  assert.equal(mergeDegraded(prev, [r('app', 'b', 'dry-run')], NOW), prev)
})

test('sync times: the start of each delivered item, per target, older entries kept', () => {
  const prev = { items: { app: { c: 'old-c' }, gone: { b: 'kept' } } }
  const got = mergeSyncTimes(prev, [r('app', 'b', 'ok'), r('app', 'c', 'failed'), r('cfg', 'b', 'ok', { startedAt: 'T-cfg' })])
  assert.equal(got, { items: { app: { c: 'old-c', b: '2030-01-01T00:00:03Z' }, gone: { b: 'kept' }, cfg: { b: 'T-cfg' } } })
  assert.equal(prev.items.app, { c: 'old-c' }, 'the previous record is not mutated')
})

test.run()
