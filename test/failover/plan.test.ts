// The pure decisions of a switchover: which node to go to, which journal to finish, what is stale.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chooseTarget } from '../../lib/failover/plan.ts'
import { recordProblems } from '../../lib/observe.ts'
import { isStale, type LockOwner } from '../../lib/lock.ts'
import { checkActive, newestActive, parseRecord } from '../../lib/state.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import type { ActiveView } from '../../lib/active.ts'
import os from 'node:os'

const pair = (nodes: string[]): Pair =>
  ({
    name: 'p',
    primary: nodes[0],
    nodes: nodes.map((n, i) => ({ name: n, address: `198.51.100.${i + 11}` })),
    sync: {
      items: [
        { name: 'app', path: '/srv/app' },
        { name: 'config', path: '/srv/config' },
      ],
    },
  }) as Pair

const cases: [string, Parameters<typeof chooseTarget>, string | RegExp][] = [
  ['failover goes to the other node of two', [pair(['a', 'b']), 'failover', 'a', undefined, undefined], 'b'],
  ['failover from the secondary goes back', [pair(['a', 'b']), 'failover', 'b', undefined, undefined], 'a'],
  ['failback goes to the primary', [pair(['a', 'b']), 'failback', 'b', undefined, undefined], 'a'],
  ['--to picks one of several', [pair(['a', 'b', 'c']), 'failover', 'a', 'c', undefined], 'c'],
  ['several candidates need --to', [pair(['a', 'b', 'c']), 'failover', 'a', undefined, undefined], /choose one with --to \(b, c\)/],
  ['unknown --to is bad input', [pair(['a', 'b']), 'failover', 'a', 'z', undefined], /no such node/],
  [
    'an interrupted run is finished toward its own target',
    [pair(['a', 'b', 'c']), 'failover', 'a', undefined, { operation: 'failover', from: 'a', to: 'c', epoch: 3, steps: [] }],
    'c',
  ],
  [
    'an explicit --to supersedes an interrupted run',
    [pair(['a', 'b', 'c']), 'failover', 'a', 'b', { operation: 'failover', from: 'a', to: 'c', epoch: 3, steps: [] }],
    'b',
  ],
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

const rec = (epoch: unknown, active: unknown, extra: object = {}) => ({ epoch, active, since: '2026-11-22T10:00:00Z', by: 'x', ...extra })

test('checkActive: a record is believed only with an integer epoch, a known node and a timestamp', () => {
  const p = pair(['a', 'b'])
  assert.is(checkActive(rec(3, 'a'), p), undefined)
  assert.match(checkActive(rec('9e99', 'a'), p)!, /epoch must be a positive integer/)
  assert.match(checkActive(rec(1.5, 'a'), p)!, /epoch/)
  assert.match(checkActive(rec(1e300, 'a'), p)!, /epoch/)
  assert.match(checkActive(rec(0, 'a'), p)!, /epoch/)
  assert.match(checkActive(rec(2, 'zed'), p)!, /must name a node of pair p/)
  assert.match(checkActive(rec(2, 'a', { from: 'q' }), p)!, /from must name/)
  assert.match(checkActive(rec(2, 'a', { since: 'yesterday' }), p)!, /timestamp/)
  assert.match(checkActive([1], p)!, /object/)
})

test('parseRecord: truncated JSON is reported with its size, never read as absent', () => {
  const p = pair(['a', 'b'])
  const full = JSON.stringify(rec(71, 'b'))
  assert.equal(parseRecord('active', full, p).value, rec(71, 'b'))
  const cut = parseRecord('active', full.slice(0, 20), p)
  assert.is(cut.value, undefined)
  assert.match(cut.why!, /not valid JSON \(20 bytes/)
})

test('recordProblems: a record contradicted by the VIP or the singleton, and an epoch that jumps', () => {
  const p = { ...pair(['a', 'b', 'c']), services: [{ name: 'db', singleton: true, start: 's', stop: 's', status: 's', checks: [] }] } as unknown as Pair
  const view = (states: Record<string, object>, active: string, epoch: number): ActiveView => ({
    active,
    epoch,
    source: 'epoch',
    states: Object.fromEntries(Object.entries(states).map(([n, a]) => [n, { corrupt: [], bad: [], active: a as any }])),
    unreachable: {},
  })
  const fip = { fip: { address: '198.51.100.20' } as any, holders: ['a'] }
  const ok = view({ a: rec(3, 'a'), b: rec(3, 'a'), c: rec(2, 'a') }, 'a', 3)
  assert.equal(recordProblems(p, ok, [fip], { a: { db: true }, b: { db: false }, c: { db: false } }), [])
  const forged = view({ a: rec(3, 'a'), b: rec(999, 'b'), c: rec(3, 'a') }, 'b', 999)
  const probs = recordProblems(p, forged, [fip], { a: { db: true }, b: { db: false }, c: { db: false } })
  assert.equal(probs.map((x) => x.kind).sort(), ['contradiction', 'contradiction', 'jump'])
  assert.ok(probs.some((x) => /198\.51\.100\.20 is on a/.test(x.detail)))
  assert.ok(probs.some((x) => /singleton db runs on a/.test(x.detail)))
  assert.ok(probs.some((x) => x.node === 'b' && /jumps to epoch 999/.test(x.detail)))
  // A node fenced during the last failovers lags by one epoch: that is history, not a forgery.
  const lagging = view({ a: rec(4, 'b'), b: rec(5, 'b') }, 'b', 5)
  assert.equal(recordProblems(p, lagging, [{ ...fip, holders: ['b'] }], { a: { db: false }, b: { db: true } }), [])
  // The address on two nodes including the recorded one is a state failover converges, not a contradiction.
  assert.equal(recordProblems(p, ok, [{ ...fip, holders: ['a', 'b'] }], { a: { db: true } }), [])
  const bad = { ...ok, states: { ...ok.states, c: { corrupt: ['active.json'], bad: [{ file: '/x/active.json', why: 'not valid JSON' }] } } }
  assert.equal(
    recordProblems(p, bad, [fip], { a: { db: true } }).map((x) => [x.kind, x.node]),
    [['corrupt', 'c']],
  )
})

test('lock staleness: expired, or a dead process on this host; a live or remote owner is not stale', () => {
  const owner = (o: Partial<LockOwner>): LockOwner => ({
    owner: 'u@h pid 1',
    host: os.hostname(),
    pid: 1,
    operation: 'failover',
    at: '',
    expires: new Date(Date.now() + 60000).toISOString(),
    ...o,
  })
  assert.ok(isStale(owner({ expires: new Date(Date.now() - 1).toISOString() })))
  assert.ok(isStale(owner({ pid: 42 }), Date.now(), () => false))
  assert.not.ok(isStale(owner({ pid: 42 }), Date.now(), () => true))
  assert.not.ok(
    isStale(owner({ host: 'other-host', pid: 42 }), Date.now(), () => false),
    'a pid on another host says nothing here',
  )
})

test.run()
