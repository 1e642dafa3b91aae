// The lab's network-fault table, as text and back: pure, no root (the lab test applies it for real).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { InputError } from '../../lib/errors.ts'
import { loadInventory } from '../../lib/inventory/load.ts'
import {
  describeNetFaults,
  faultRuleset,
  hostPort,
  lossDropped,
  noNetFaults,
  parseFaultTable,
  parsePercent,
  partitionsOf,
  withLoss,
  withPartition,
} from '../../lib/lab/nft.ts'
import { labPlan } from '../../lib/lab/plan.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
// Lab "demo": id 89e495, node-a is port n0, node-b n1, the controller's veth end cp.
const plan = labPlan(loadInventory(path.join(root, 'inventory/lab.json')))
const HEAD = 'table bridge hapair\ndelete table bridge hapair\n'
const table = (...rules: string[]) =>
  HEAD +
  ['table bridge hapair {', '  chain forward {', '    type filter hook forward priority 0; policy accept;', ...rules.map((r) => `    ${r}`), '  }', '}'].join(
    '\n',
  ) +
  '\n'

const throwsInput = (f: () => unknown, re: RegExp) => {
  try {
    f()
  } catch (e) {
    assert.instance(e, InputError)
    assert.match((e as Error).message, re)
    return
  }
  assert.unreachable('expected an InputError')
}

test('hosts are the nodes (their bridge ports) and the controller (its veth end)', () => {
  assert.is(hostPort(plan, 'node-a'), 'hp89e495n0')
  assert.is(hostPort(plan, 'node-b'), 'hp89e495n1')
  assert.is(hostPort(plan, 'controller'), 'hp89e495cp')
  throwsInput(() => hostPort(plan, 'node-c'), /no host named "node-c" \(hosts: node-a, node-b, controller\)/)
})

test('no faults: the script only removes the table (and works when there is none)', () => {
  assert.is(faultRuleset(plan, noNetFaults()), HEAD)
})

test('a partition drops both directions by port; one-way drops only A -> B', () => {
  assert.is(
    faultRuleset(plan, withPartition(noNetFaults(), 'controller', 'node-a', false)),
    table(
      'iifname "hp89e495cp" oifname "hp89e495n0" counter drop comment "drop controller>node-a"',
      'iifname "hp89e495n0" oifname "hp89e495cp" counter drop comment "drop node-a>controller"',
    ),
  )
  assert.is(
    faultRuleset(plan, withPartition(noNetFaults(), 'node-a', 'node-b', true)),
    table('iifname "hp89e495n0" oifname "hp89e495n1" counter drop comment "drop node-a>node-b"'),
  )
})

test('partitions are idempotent, refuse one host twice and unknown hosts', () => {
  let f = withPartition(noNetFaults(), 'node-a', 'node-b', true)
  f = withPartition(f, 'node-a', 'node-b', false)
  f = withPartition(f, 'node-b', 'node-a', true)
  assert.equal(f.drops, [
    { from: 'node-a', to: 'node-b' },
    { from: 'node-b', to: 'node-a' },
  ])
  assert.equal(partitionsOf(f), [{ a: 'node-a', b: 'node-b', oneWay: false, dropped: 0 }])
  throwsInput(() => withPartition(noNetFaults(), 'node-a', 'node-a', false), /two different hosts/)
  throwsInput(() => faultRuleset(plan, withPartition(noNetFaults(), 'node-a', 'nope', false)), /no host named "nope"/)
})

test('loss: random drop in each direction; 100 drops all; 0 removes it', () => {
  const f = withLoss(noNetFaults(), 'node-b', 30)
  assert.is(
    faultRuleset(plan, f),
    table(
      'iifname "hp89e495n1" numgen random mod 100 < 30 counter drop comment "loss node-b 30 in"',
      'oifname "hp89e495n1" numgen random mod 100 < 30 counter drop comment "loss node-b 30 out"',
    ),
  )
  const all = withLoss(f, 'node-b', 100)
  assert.equal(all.loss, [{ host: 'node-b', pct: 100 }])
  assert.is(
    faultRuleset(plan, all),
    table('iifname "hp89e495n1" counter drop comment "loss node-b 100 in"', 'oifname "hp89e495n1" counter drop comment "loss node-b 100 out"'),
  )
  assert.equal(withLoss(all, 'node-b', 0), noNetFaults())
  throwsInput(() => faultRuleset(plan, { drops: [], loss: [{ host: 'node-a', pct: 101 }] }), /1\.\.100/)
  throwsInput(() => faultRuleset(plan, { drops: [], loss: [{ host: 'node-a', pct: 2.5 }] }), /1\.\.100/)
})

test('a rewrite keeps the counts of rules that stay', () => {
  const f = withLoss(withPartition(noNetFaults(), 'node-a', 'node-b', true), 'node-a', 10)
  const text = faultRuleset(plan, f, { 'drop node-a>node-b': { packets: 7, bytes: 588 }, 'loss node-a 10 out': { packets: 2, bytes: 84 } })
  assert.ok(text.includes('oifname "hp89e495n1" counter packets 7 bytes 588 drop comment "drop node-a>node-b"'), text)
  assert.ok(text.includes('iifname "hp89e495n0" numgen random mod 100 < 10 counter drop comment "loss node-a 10 in"'), text)
  assert.ok(text.includes('oifname "hp89e495n0" numgen random mod 100 < 10 counter packets 2 bytes 84 drop comment "loss node-a 10 out"'), text)
})

test('parsePercent: whole numbers 0..100, an optional %', () => {
  for (const [s, n] of [
    ['0', 0],
    ['30', 30],
    ['30%', 30],
    ['100', 100],
    [' 5 ', 5],
    [7, 7],
  ] as const)
    assert.is(parsePercent(s), n)
  for (const s of ['101', '-1', '2.5', 'abc', '', '1e2', '30%%']) throwsInput(() => parsePercent(s), /whole number 0\.\.100/)
})

// What nft 1.0.6 prints for `nft -j list table bridge hapair` (captured from the lab), plus a rule of someone else's.
const rule = (handle: number, comment: string | undefined, packets: number) => ({
  rule: {
    family: 'bridge',
    table: 'hapair',
    chain: 'forward',
    handle,
    ...(comment ? { comment } : {}),
    expr: [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'hp89e495n0' } }, { counter: { packets, bytes: packets * 84 } }, { drop: null }],
  },
})
const listed = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    { table: { family: 'bridge', name: 'hapair', handle: 16 } },
    { chain: { family: 'bridge', table: 'hapair', name: 'forward', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
    rule(2, 'drop controller>node-a', 3),
    rule(3, 'drop node-a>controller', 1),
    rule(4, 'drop node-a>node-b', 0),
    rule(5, 'loss node-b 30 in', 4),
    rule(6, 'loss node-b 30 out', 5),
    rule(7, undefined, 9),
    rule(8, 'somebody else', 9),
  ],
})

test('the table read back: faults, folded partitions, counts', () => {
  const r = parseFaultTable(listed)
  assert.equal(r.drops, [
    { from: 'controller', to: 'node-a' },
    { from: 'node-a', to: 'controller' },
    { from: 'node-a', to: 'node-b' },
  ])
  assert.equal(r.loss, [{ host: 'node-b', pct: 30 }])
  assert.equal(partitionsOf(r, r.counters), [
    { a: 'controller', b: 'node-a', oneWay: false, dropped: 4 },
    { a: 'node-a', b: 'node-b', oneWay: true, dropped: 0 },
  ])
  assert.is(lossDropped(r.loss[0], r.counters), 9)
  assert.equal(describeNetFaults(r), ['partition controller <-> node-a', 'partition node-a -> node-b', 'loss node-b 30%'])
  // Read, change, write: the same faults come out as the same rules.
  assert.is(
    faultRuleset(plan, r)
      .split('\n')
      .filter((l) => l.includes('comment')).length,
    5,
  )
  assert.equal(parseFaultTable('{"nftables": []}'), { drops: [], loss: [], counters: {} })
})

test.run()
