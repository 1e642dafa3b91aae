// The lock's pure rules: when an owner is stale, which journals are believed, and what status says.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import os from 'node:os'
import { describeLock, isStale, unbreakable, parseJournal, parseOwner, type LockOwner } from '../lib/lock.ts'
import type { Pair } from '../lib/inventory/schema.ts'

const pair = { name: 'demo', primary: 'node-a', nodes: [{ name: 'node-a' }, { name: 'node-b' }] } as unknown as Pair
const NOW = Date.parse('2030-01-01T12:00:00Z')
const owner = (o: Partial<LockOwner> = {}): LockOwner => ({
  owner: 'ops@ctl pid 1',
  host: 'elsewhere',
  pid: 1,
  operation: 'failover',
  at: '2030-01-01T11:59:00Z',
  expires: '2030-01-01T12:01:00Z',
  ...o,
})

test('isStale: expired, or a dead pid on this host; a live or foreign pid before expiry is not', () => {
  assert.ok(isStale(owner({ expires: '2030-01-01T11:59:59Z' }), NOW))
  assert.ok(isStale(owner({ expires: 'garbage' }), NOW), 'an unreadable expiry is stale')
  assert.ok(isStale(owner({ host: os.hostname(), pid: 42 }), NOW, () => false))
  assert.not.ok(isStale(owner({ host: os.hostname(), pid: 42 }), NOW, () => true))
  assert.not.ok(
    isStale(owner(), NOW, () => false),
    'a pid on another host says nothing here',
  )
})

test('parseOwner: only a complete owner is one', () => {
  assert.equal(parseOwner(JSON.stringify(owner())), owner())
  for (const bad of ['', '{"owner": half', '[]', JSON.stringify({ ...owner(), pid: '1' }), JSON.stringify({ ...owner(), expires: 'soon' })]) {
    assert.is(parseOwner(bad), undefined, bad)
  }
})

const good = { operation: 'failback', from: 'node-b', to: 'node-a', epoch: 4, steps: ['lock', 'fence'] }
test('parseJournal: a well-formed journal of this pair is believed', () => {
  assert.equal(parseJournal(JSON.stringify(good), pair), { journal: good })
  assert.equal(parseJournal(JSON.stringify({ ...good, extra: 1 }), pair).journal, good, 'unknown fields are dropped')
  // A converging run (the records already name the target) journals from === to; it is resumable too.
  assert.equal(parseJournal(JSON.stringify({ ...good, from: good.to }), pair).journal, { ...good, from: good.to })
})

const bad: [string, unknown, RegExp][] = [
  ['epoch as a string', { ...good, epoch: '9e99' }, /epoch "9e99" is not a positive integer/],
  ['a huge epoch', { ...good, epoch: 9e99 }, /epoch .* is not a positive integer/],
  ['a fractional epoch', { ...good, epoch: 1.5 }, /epoch/],
  ['epoch zero', { ...good, epoch: 0 }, /epoch/],
  ['a node not in the inventory', { ...good, to: 'node-z' }, /to "node-z" is not a node of pair demo \(node-a, node-b\)/],
  ['a missing from', { ...good, from: undefined }, /from undefined is not a node/],
  ['an unknown operation', { ...good, operation: 'rm -rf' }, /operation "rm -rf" is not one of failover, failback/],
  ['steps not strings', { ...good, steps: [1] }, /steps/],
  ['an array', [good], /not a JSON object/],
  ['truncated JSON', JSON.stringify(good).slice(0, 20), /not valid JSON/],
]
for (const [name, value, want] of bad)
  test(`parseJournal: refuses ${name}`, () => {
    const r = parseJournal(typeof value === 'string' ? value : JSON.stringify(value), pair)
    assert.is(r.journal, undefined)
    assert.match(r.problem!, want)
  })

test('describeLock: live, interrupted with its finishing command, unusable journal, nothing journalled', () => {
  const o = JSON.stringify(owner())
  assert.match(describeLock(pair, 'node-a', o, '', NOW), /^locked on node-a by ops@ctl pid 1 .*: a failover is under way$/)
  const stale = JSON.stringify(owner({ expires: '2030-01-01T11:00:00Z' }))
  assert.match(
    describeLock(pair, 'node-b', stale, JSON.stringify(good), NOW),
    /unfinished failback node-b -> node-a \(epoch 4\) on node-b, .*`npx zx playbooks\/failback.ts --pair demo --yes`/,
  )
  assert.match(describeLock(pair, 'node-b', stale, '{"epoch":"9e99"}', NOW), /unusable journal \(operation undefined/)
  assert.match(describeLock(pair, 'node-b', stale, '', NOW), /died before journalling a change/)
})

test('unbreakable: --break-lock refuses a live holder on this host, naming its pid; not one elsewhere, dead, or left over by this process', () => {
  const here = os.hostname()
  assert.match(unbreakable(owner({ host: here, pid: 4242 }), () => true) ?? '', /pid 4242 on this host .* is alive: .*stop pid 4242 first/)
  assert.is(
    unbreakable(owner({ host: 'elsewhere', pid: 4242 }), () => true),
    undefined,
    'another host: its pid says nothing here',
  )
  assert.is(
    unbreakable(owner({ host: here, pid: 4242 }), () => false),
    undefined,
    'dead',
  )
  assert.is(
    unbreakable(owner({ host: here, pid: process.pid, id: 'not-renewed' }), () => true),
    undefined,
    'our own lock, no longer renewed (keep())',
  )
})

test.run()
