import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RefusedError } from '../../lib/errors.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { guardDirection, guardLock } from '../../lib/sync/index.ts'
import type { NodeFacts } from '../../lib/sync/plan.ts'

const refused = (fn: () => void, text: string | RegExp) => {
  try {
    fn()
    assert.unreachable('should refuse')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.is((e as RefusedError).exitCode, 3)
    assert.match((e as Error).message, text)
  }
}

test('direction: from the active node to the others is fine', () => {
  guardDirection('node-a', 0, {})
  guardDirection('node-a', 0, { from: 'node-a', to: 'node-b' })
  guardDirection('node-b', 4, { from: 'node-b', bootstrap: 'node-a' })
})

// active, epoch, options, refusal
const refusals: [string, number, object, RegExp][] = [
  [
    'node-a',
    0,
    { from: 'node-b' },
    /refusing to sync from node-b: the active node is node-a \(the inventory primary; no failover recorded\); syncing from any other node overwrites newer data/,
  ],
  ['node-b', 3, { from: 'node-a' }, /refusing to sync from node-a: the active node is node-b \(epoch 3\)/],
  ['node-a', 0, { to: 'node-a' }, /refusing to sync to node-a: .* data only flows out of it/],
  ['node-b', 1, { bootstrap: 'node-b' }, /refusing to bootstrap node-b: .*overwrites the target/],
]
for (const [active, epoch, o, want] of refusals)
  test(`direction: refuses ${JSON.stringify(o)} when ${active} is active`, () => {
    refused(() => guardDirection(active, epoch, o), want)
  })

const pair = { name: 'demo' } as Pair
const facts = (lock?: object | string): NodeFacts => ({ items: {}, rsync: true, lock: typeof lock === 'string' ? lock : lock && JSON.stringify(lock) })
const NOW = Date.parse('2030-01-01T12:00:00Z')
const owner = (expires: string) => ({ owner: 'ops@ctl pid 1', host: 'elsewhere', pid: 1, operation: 'failover', at: '2030-01-01T11:59:00Z', expires })

test('lock: a failover under way refuses the sync (exit 3), naming who holds it', () => {
  refused(
    () => guardLock(pair, [facts(), facts(owner('2030-01-01T12:05:00Z'))], NOW),
    /pair demo is locked by ops@ctl pid 1 \(failover, since .*\): a failover or failback is under way/,
  )
})

test('lock: none, or only on an unreachable node, does not stop the sync', () => {
  guardLock(pair, [facts(), facts()], NOW)
  guardLock(pair, [{ unreachable: 'x' }], NOW)
})

test('lock: an expired or unreadable lock refuses too: its run died and the pair is what it left', () => {
  refused(
    () => guardLock(pair, [facts(owner('2030-01-01T11:00:00Z'))], NOW),
    /still locked by ops@ctl pid 1 .*died before it journalled a change: re-run `npx zx playbooks\/failover.ts --pair demo --yes`/,
  )
  refused(() => guardLock(pair, [facts('{"owner": half-writ')], NOW), /still locked by an owner that cannot be read/)
})

test.run()
