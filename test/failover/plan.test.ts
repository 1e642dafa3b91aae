// The pure decisions of a switchover: which node to go to, which journal to finish, what is stale.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chooseTarget } from '../../lib/failover/plan.ts'
import { staleItems } from '../../lib/failover/freshness.ts'
import { isStale, type LockOwner } from '../../lib/lock.ts'
import { newestActive } from '../../lib/state.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import type { ActiveView } from '../../lib/active.ts'
import os from 'node:os'

const pair = (nodes: string[]): Pair => ({
  name: 'p', primary: nodes[0], nodes: nodes.map((n, i) => ({ name: n, address: `198.51.100.${i + 11}` })),
  sync: { items: [{ name: 'app', path: '/srv/app' }, { name: 'config', path: '/srv/config' }] },
}) as Pair

const cases: [string, Parameters<typeof chooseTarget>, string | RegExp][] = [
  ['failover goes to the other node of two', [pair(['a', 'b']), 'failover', 'a', undefined, undefined], 'b'],
  ['failover from the secondary goes back', [pair(['a', 'b']), 'failover', 'b', undefined, undefined], 'a'],
  ['failback goes to the primary', [pair(['a', 'b']), 'failback', 'b', undefined, undefined], 'a'],
  ['--to picks one of several', [pair(['a', 'b', 'c']), 'failover', 'a', 'c', undefined], 'c'],
  ['several candidates need --to', [pair(['a', 'b', 'c']), 'failover', 'a', undefined, undefined], /choose one with --to \(b, c\)/],
  ['unknown --to is bad input', [pair(['a', 'b']), 'failover', 'a', 'z', undefined], /no such node/],
  ['an interrupted run is finished toward its own target', [pair(['a', 'b', 'c']), 'failover', 'a', undefined, { operation: 'failover', from: 'a', to: 'c', epoch: 3, steps: [] }], 'c'],
  ['a different --to while one is unfinished is refused', [pair(['a', 'b', 'c']), 'failover', 'a', 'b', { operation: 'failover', from: 'a', to: 'c', epoch: 3, steps: [] }], /unfinished/],
]
for (const [name, args, want] of cases) {
  test(`chooseTarget: ${name}`, () => {
    if (typeof want === 'string') return assert.is(chooseTarget(...args), want)
    assert.throws(() => chooseTarget(...args), want)
  })
}

test('newestActive: the highest epoch wins, ties go to the latest', () => {
  const r = (epoch: number, active: string, since: string) => ({ epoch, active, since, by: 'x' })
  assert.is(newestActive([r(1, 'a', '2026-01-01'), r(3, 'b', '2026-01-01'), undefined, r(2, 'a', '2026-02-01')])?.active, 'b')
  assert.is(newestActive([r(2, 'a', '2026-01-01'), r(2, 'b', '2026-01-02')])?.active, 'b')
  assert.is(newestActive([undefined]), undefined)
})

test('staleItems: the primary is fresh only when every item reached it after it stopped being active', () => {
  const view = (items: Record<string, Record<string, string>>): ActiveView => ({
    active: 'b', epoch: 1, source: 'epoch', record: { epoch: 1, active: 'b', since: '2026-11-22T10:00:00Z', by: 'x' },
    states: { b: { corrupt: [], sync: { items } } }, unreachable: {},
  })
  const p = pair(['a', 'b'])
  assert.equal(staleItems(p, view({}), 'a'), ['app', 'config'])
  assert.equal(staleItems(p, view({ app: { a: '2026-11-22T10:05:00Z' }, config: { a: '2026-11-22T09:00:00Z' } }), 'a'), ['config'])
  assert.equal(staleItems(p, view({ app: { a: '2026-11-22T10:05:00Z' }, config: { a: '2026-11-22T10:06:00Z' } }), 'a'), [])
})

test('lock staleness: expired, or a dead process on this host; a live or remote owner is not stale', () => {
  const owner = (o: Partial<LockOwner>): LockOwner => ({ owner: 'u@h pid 1', host: os.hostname(), pid: 1, operation: 'failover', at: '', expires: new Date(Date.now() + 60000).toISOString(), ...o })
  assert.ok(isStale(owner({ expires: new Date(Date.now() - 1).toISOString() })))
  assert.ok(isStale(owner({ pid: 42 }), Date.now(), () => false))
  assert.not.ok(isStale(owner({ pid: 42 }), Date.now(), () => true))
  assert.not.ok(isStale(owner({ host: 'other-host', pid: 42 }), Date.now(), () => false), 'a pid on another host says nothing here')
})

test.run()
