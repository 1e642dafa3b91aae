// The lease driver's arithmetic, without a lab: how long a taker waits past the highest deadline
// issued, with and without a watchdog, and what the plan says about it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LeaseFenceDriver } from '../../lib/drivers/fence-lease.ts'
import { GUARD_POLL_MS } from '../../lib/guard/script.ts'
import type { DriverContext } from '../../lib/drivers/types.ts'
import type { Pair } from '../../lib/inventory/schema.ts'

const pair = (lease: object, skew = 200): Pair =>
  ({
    name: 'demo',
    primary: 'node-a',
    preconditions: { maxClockSkewMs: skew },
    nodes: [
      { name: 'node-a', address: '198.51.100.11' },
      { name: 'node-b', address: '198.51.100.12' },
    ],
    fencing: { driver: 'lease', lease },
  }) as Pair
const driver = (p: Pair) => new LeaseFenceDriver({ pair: p } as DriverContext)

test('without a watchdog: skew + margin + the guard poll, and the plan says a stalled guard is not covered', () => {
  const d = driver(pair({ marginMs: 300 }))
  assert.is(d.graceMs, 200 + 300 + GUARD_POLL_MS)
  assert.match(d.describe('stop', pair({}).nodes[0])[0], /no watchdog: a guard that stalls past the margin is not covered/)
})

test('with a watchdog: the longer of margin + poll and its timeout, so a stalled guard has been reset', () => {
  assert.is(driver(pair({ marginMs: 300, watchdog: { timeoutMs: 2000 } })).graceMs, 200 + 2000)
  // A timeout shorter than the step-down margin does not shorten the wait.
  assert.is(driver(pair({ marginMs: 300, watchdog: { timeoutMs: 100 } })).graceMs, 200 + 300 + GUARD_POLL_MS)
  assert.match(
    driver(pair({ watchdog: { timeoutMs: 2000 } })).describe('stop', pair({}).nodes[0])[0],
    /2000 ms watchdog timeout\).*or the watchdog resets the node/,
  )
})

test.run()
