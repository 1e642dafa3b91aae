// The PostgreSQL checks' judging, from probe states: healthy passes, each fault fails with why.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judgeLag, judgeOnePrimary, judgeRewindable, judgeSlots, judgeTimelines, type PgProbes } from '../../lib/checks/postgres.ts'
import { pgSettings } from '../../lib/postgres/config.ts'
import type { PgState } from '../../lib/postgres/state.ts'
import { labPgService } from '../../lib/lab/postgres.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { formatStatus, pgNodeStatus, type PairStatus } from '../../lib/status.ts'

const pg = pgSettings(labPgService('async', { maxLagBytes: 1000 }).postgresql!)
const sync = pgSettings(labPgService('sync', { maxLagBytes: 1000 }).postgresql!)
const pair = {
  name: 'p',
  nodes: [
    { name: 'a', address: '198.51.100.11' },
    { name: 'b', address: '198.51.100.12' },
  ],
} as unknown as Pair
const S = (x: Partial<PgState>): PgState => ({ role: 'standby', running: true, replicas: [], slots: [], walLogHints: true, checksums: false, ...x })
const A = S({
  role: 'primary',
  flush: '0/2100',
  timeline: 1,
  replicas: [{ name: 'b', state: 'streaming', sync: 'sync', flush: '0/2100', replay: '0/2000', addr: '198.51.100.12' }],
  slots: [{ name: 'hapair_b', active: true, restart: '0/2000' }],
})
const B = S({
  receive: '0/2100',
  replay: '0/2000',
  timeline: 1,
  receiver: { status: 'streaming', host: '198.51.100.11', timeline: 1, latestEnd: '0/2100', latestEndAgeS: 0 },
})
const healthy: PgProbes = { a: A, b: B }

test('healthy pair: every judge passes on both nodes', () => {
  for (const n of ['a', 'b']) {
    for (const v of [
      judgeOnePrimary(healthy, n, 'a'),
      judgeLag(sync, healthy, n),
      judgeSlots(pg, pair, healthy, n),
      judgeTimelines(healthy, n),
      judgeRewindable(healthy, n),
    ])
      assert.ok(v.ok, `${n}: ${v.detail}`)
  }
  assert.match(judgeLag(pg, healthy, 'b').detail, /streams from a, replay 256 bytes \(256 B\) behind \(max 1000\)/)
  assert.match(judgeSlots(pg, pair, healthy, 'a').detail, /hapair_b active \(256 bytes/)
})

test('exactly one primary: two primaries fail on both, none fails, a primary that is not the active node fails, unknown fails', () => {
  const two: PgProbes = { a: A, b: S({ role: 'primary', flush: '0/3000', timeline: 2 }) }
  assert.match(judgeOnePrimary(two, 'a', 'a').detail, /2 primaries \(a, b\)/)
  assert.not.ok(judgeOnePrimary(two, 'b', 'a').ok)
  assert.not.ok(judgeOnePrimary({ a: S({ role: 'down' }), b: B }, 'b', 'a').ok)
  assert.match(judgeOnePrimary(healthy, 'a', 'b').detail, /active node is b/)
  assert.not.ok(judgeOnePrimary({ a: A, b: S({ role: 'unknown', error: 'starting up' }) }, 'b', 'a').ok)
  assert.not.ok(judgeOnePrimary({ a: A, b: 'unreachable: x' }, 'b', 'a').ok)
  assert.ok(judgeOnePrimary({ a: A, b: S({ role: 'down', running: false }) }, 'b', 'a').ok, 'a stopped standby is not a primary')
})

test('lag: beyond maxLagBytes, paused replay, not streaming, no primary, sync mode without a synchronous standby', () => {
  assert.match(judgeLag(pg, { a: S({ ...A, flush: '0/3000' }), b: B }, 'b').detail, /replay lags a by 4096 bytes .* more than maxLagBytes 1000/)
  assert.match(judgeLag(pg, { a: A, b: S({ ...B, replayPaused: true }) }, 'b').detail, /replay is paused/)
  assert.match(judgeLag(pg, { a: A, b: S({ ...B, receiver: { ...B.receiver!, status: 'waiting' } }) }, 'b').detail, /not streaming \(WAL receiver waiting\)/)
  assert.match(judgeLag(pg, { a: A, b: S({ ...B, receiver: undefined }) }, 'b').detail, /WAL receiver not running/)
  assert.match(judgeLag(pg, { a: S({ role: 'down' }), b: B }, 'b').detail, /no primary/)
  assert.match(judgeLag(pg, { a: A, b: S({ role: 'down' }) }, 'b').detail, /PostgreSQL is down/)
  const asyncA = S({ ...A, replicas: [{ ...A.replicas[0], sync: 'async' }] })
  assert.ok(judgeLag(pg, { a: asyncA, b: B }, 'a').ok, 'async mode: an async standby is fine')
  assert.match(judgeLag(sync, { a: asyncA, b: B }, 'a').detail, /sync mode, but no standby is synchronous/)
})

test('slots: missing, inactive, keeping too much WAL, a stray inactive slot', () => {
  assert.match(judgeSlots(pg, pair, { a: S({ ...A, slots: [] }), b: B }, 'a').detail, /slot hapair_b for b is missing/)
  assert.match(
    judgeSlots(pg, pair, { a: S({ ...A, slots: [{ name: 'hapair_b', active: false, restart: '0/1000' }] }), b: B }, 'a').detail,
    /hapair_b is inactive: .* keeps 4352 bytes/,
  )
  assert.match(
    judgeSlots(pg, pair, { a: S({ ...A, slots: [{ name: 'hapair_b', active: true, restart: '0/100' }] }), b: B }, 'a').detail,
    /keeps 8192 bytes .* more than maxLagBytes 1000/,
  )
  const stray = S({ ...A, slots: [...A.slots, { name: 'old_c', active: false, restart: '0/100' }] })
  assert.match(judgeSlots(pg, pair, { a: stray, b: B }, 'a').detail, /old_c belongs to no node/)
  assert.ok(judgeSlots(pg, pair, healthy, 'b').ok, 'a standby is not judged on slots')
})

test('timelines: a forked standby or a second primary on another timeline fails; a stopped node passes', () => {
  const forked = S({ ...B, timeline: 2, receiver: undefined })
  assert.match(judgeTimelines({ a: A, b: forked }, 'b').detail, /timeline 2 here, but a is on 1/)
  const two: PgProbes = { a: A, b: S({ role: 'primary', timeline: 2 }) }
  assert.not.ok(judgeTimelines(two, 'a').ok)
  assert.not.ok(judgeTimelines(two, 'b').ok)
  assert.ok(judgeTimelines({ a: A, b: S({ role: 'down', timeline: 1 }) }, 'b').ok)
})

test('rewindable: wal_log_hints or checksums; both off fails', () => {
  assert.ok(judgeRewindable({ b: S({ walLogHints: false, checksums: true }) }, 'b').ok)
  assert.match(judgeRewindable({ b: S({ walLogHints: false, checksums: false }) }, 'b').detail, /wal_log_hints off and data checksums off/)
  assert.not.ok(judgeRewindable({ b: 'unreachable' }, 'b').ok)
})

test('status: per node role, timeline, replication and lag, and the lines for a person', () => {
  assert.equal(pgNodeStatus(healthy, 'a'), { role: 'primary', timeline: 1, replication: 'to b streaming (sync)' })
  assert.equal(pgNodeStatus(healthy, 'b'), { role: 'standby', timeline: 1, replication: 'streaming from 198.51.100.11', lagBytes: 256 })
  assert.is(pgNodeStatus({ a: A, b: S({ role: 'down', control: { state: 'shut down in recovery' } }) }, 'b').replication, 'stopped (shut down in recovery)')
  const st: PairStatus = {
    name: 'p',
    active: 'a',
    activeSource: 'epoch',
    epoch: 1,
    degraded: false,
    degradedReasons: [],
    floatingIps: [],
    ms: 1,
    nodes: [
      { name: 'a', address: '198.51.100.11', role: 'primary', reachable: true, services: { db: true }, postgres: pgNodeStatus(healthy, 'a'), ms: 1 },
      {
        name: 'b',
        address: '198.51.100.12',
        role: 'secondary',
        reachable: true,
        services: { db: true },
        postgres: { ...pgNodeStatus(healthy, 'b'), replayPaused: true },
        ms: 1,
      },
    ],
  }
  const out = formatStatus([st])
  assert.match(out, /postgresql primary timeline 1, to b streaming \(sync\)/)
  assert.match(out, /postgresql standby timeline 1, streaming from 198\.51\.100\.11, lag 256 bytes, REPLAY PAUSED/)
})

test.run()
