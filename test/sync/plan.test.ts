import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { InputError } from '../../lib/errors.ts'
import type { Pair, SyncItem } from '../../lib/inventory/schema.ts'
import { buildPlan, compareVersions, gate, orderItems, selectItems, type NodeFacts } from '../../lib/sync/plan.ts'
import type { Policy } from '../../lib/sync/types.ts'

const item = (name: string, extra: Partial<SyncItem> = {}): SyncItem => ({ name, path: `/srv/${name}`, ...extra })
const pair = (items: SyncItem[], extra: Partial<Pair> = {}): Pair => ({
  name: 'p',
  primary: 'a',
  nodes: [
    { name: 'a', address: '192.0.2.1' },
    { name: 'b', address: '192.0.2.2' },
    { name: 'c', address: '192.0.2.3' },
  ],
  sync: { items },
  ...extra,
})

test('orderItems: higher priority first, ties keep the inventory order, no priority counts as 0', () => {
  const got = orderItems([
    item('low', { priority: 1 }),
    item('none'),
    item('hi', { priority: 20 }),
    item('tie1', { priority: 5 }),
    item('tie2', { priority: 5 }),
    item('neg', { priority: -3 }),
  ])
  assert.equal(
    got.map((i) => i.name),
    ['hi', 'tie1', 'tie2', 'low', 'none', 'neg'],
  )
})

test('selectItems: all, repeated, comma-separated, in priority order', () => {
  const p = pair([item('a', { priority: 1 }), item('b', { priority: 9 }), item('c', { priority: 5 })])
  assert.equal(
    selectItems(p).map((i) => i.name),
    ['b', 'c', 'a'],
  )
  assert.equal(
    selectItems(p, ['a', 'b']).map((i) => i.name),
    ['b', 'a'],
  )
  assert.equal(
    selectItems(p, ['a,c']).map((i) => i.name),
    ['c', 'a'],
  )
})

test('selectItems: an unknown item is bad input naming the known ones', () => {
  const p = pair([item('a'), item('b')])
  try {
    selectItems(p, ['a', 'zz'])
    assert.unreachable()
  } catch (e) {
    assert.instance(e, InputError)
    assert.match((e as Error).message, /no sync item "zz" \(items: a, b\)/)
  }
})

const cmp: [string, string, number][] = [
  ['1', '1', 0],
  ['1', '1.0', 0],
  ['1.0.0', '1', 0],
  ['2', '10', -1],
  ['1.10', '1.9', 1],
  ['5.2', '5.2.1', -1],
  ['1.2-rc1', '1.2-rc2', -1],
  ['1.2-rc10', '1.2-rc9', 1],
  ['abc', 'abd', -1],
  [' 3 ', '3', 0],
]
for (const [a, b, want] of cmp)
  test(`compareVersions(${a}, ${b}) = ${want}`, () => {
    assert.is(compareVersions(a, b), want)
    assert.is(compareVersions(b, a), -want || 0)
  })

// policy, source, target, syncs?
const gates: [Policy, string, string, boolean][] = [
  ['equal', '1', '1', true],
  ['equal', '1', '2', false],
  ['equal', '2', '1', false],
  ['upgrade', '1', '1', true],
  ['upgrade', '1', '2', true],
  ['upgrade', '2', '1', false],
  ['downgrade', '1', '1', true],
  ['downgrade', '1', '2', false],
  ['downgrade', '2', '1', true],
  ['always', '1', '1', true],
  ['always', '1', '2', true],
  ['always', '2', '1', true],
]
for (const [policy, s, t, ok] of gates)
  test(`gate ${policy}: source ${s}, target ${t} -> ${ok ? 'sync' : 'skip'}`, () => {
    const g = gate(policy, { value: s }, { value: t })
    assert.is(g.ok, ok)
    if (!g.ok) {
      assert.match(g.reason, `policy ${policy}`)
      assert.match(g.reason, `source ${s} is ${Number(s) < Number(t) ? 'lower' : 'higher'} than target ${t}`)
      assert.not.ok(g.unknown)
    }
  })

test('gate: a version that cannot be read stops the item, unless always or a bootstrap target', () => {
  const bad = { error: 'cannot read /v' }
  const s = gate('equal', bad, { value: '1' })
  assert.equal([s.ok, !s.ok && s.unknown, !s.ok && /source data version unknown \(cannot read \/v\)/.test(s.reason)], [false, true, true])
  const t = gate('upgrade', { value: '1' }, bad)
  assert.equal([t.ok, !t.ok && /--bootstrap/.test(t.reason)], [false, true])
  assert.ok(gate('always', bad, bad).ok)
  const b = gate('equal', { value: '1' }, bad, { bootstrap: true })
  assert.ok(b.ok && /bootstrap/.test(b.note ?? ''))
  assert.not.ok(gate('equal', bad, { value: '1' }, { bootstrap: true }).ok, 'bootstrap still needs the source version')
})

test('gate: no version declared on either side syncs (nothing to compare)', () => {
  assert.ok(gate('equal', undefined, undefined).ok)
})

const facts = (software: string | undefined, items: Record<string, string>, rsync = true): NodeFacts => ({
  software: software === undefined ? undefined : { value: software },
  items: Object.fromEntries(Object.entries(items).map(([k, v]) => [k, { value: v }])),
  rsync,
})

test('buildPlan: item-major in priority order; item version beats software version; unreachable is pending', () => {
  const p = pair([item('data', { priority: 1, version: { file: '/v' } }), item('conf', { priority: 9 }), item('scripts', { priority: 5, policy: 'upgrade' })], {
    software: { file: '/sw' },
  })
  const steps = buildPlan({
    pair: p,
    items: orderItems(p.sync!.items),
    targets: ['b', 'c'],
    source: facts('5.2', { data: '3' }),
    reach: { b: facts('5.3', { data: '3' }), c: { unreachable: 'c (192.0.2.3): unreachable on port 22: ETIMEDOUT' } },
  })
  assert.equal(
    steps.map((s) => `${s.item.name}>${s.target}:${s.action}`),
    ['conf>b:skip', 'conf>c:pending', 'scripts>b:sync', 'scripts>c:pending', 'data>b:sync', 'data>c:pending'],
  )
  assert.match(steps[0].reason!, 'policy equal needs equal versions: source 5.2 is lower than target 5.3')
  assert.equal(steps[4].versions, { source: '3', target: '3' })
  assert.ok(steps[1].link)
  assert.match(steps[1].reason!, 'ETIMEDOUT')
})

test('buildPlan: rsync missing on either side fails the rsync items only; protected items are skipped', () => {
  const p = pair([item('r'), item('s', { transport: 'sftp' }), item('x', { path: '/etc/x' })], { sync: { items: [], protected: ['/etc'] } })
  p.sync!.items = [item('r'), item('s', { transport: 'sftp' }), item('x', { path: '/etc/x' })]
  const on = (src: boolean, dst: boolean) =>
    buildPlan({ pair: p, items: p.sync!.items, targets: ['b'], source: facts(undefined, {}, src), reach: { b: facts(undefined, {}, dst) } })
  assert.equal(
    on(true, false).map((s) => s.action),
    ['fail', 'sync', 'skip'],
  )
  assert.match(on(true, false)[0].reason!, 'rsync is not installed on b')
  assert.match(on(false, true)[0].reason!, 'rsync is not installed on the source')
  assert.match(on(true, true)[2].reason!, 'inside a protected path')
})

test('buildPlan: a target without a data version fails the item (exit 1), a bootstrap target syncs', () => {
  const p = pair([item('data', { version: { file: '/v' } })])
  const reach = { b: { items: { data: { error: 'cannot read /v' } }, rsync: true } }
  const [normal] = buildPlan({ pair: p, items: p.sync!.items, targets: ['b'], source: facts(undefined, { data: '1' }), reach })
  assert.is(normal.action, 'fail')
  const [boot] = buildPlan({ pair: p, items: p.sync!.items, targets: ['b'], source: facts(undefined, { data: '1' }), reach, bootstrap: true })
  assert.is(boot.action, 'sync')
})

test.run()
