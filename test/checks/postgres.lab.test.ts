// The PostgreSQL verify checks against real PostgreSQL in the lab (sync mode): all pass on a
// healthy pair, and each fails for a fault made for real: replay paused behind maxLagBytes, the
// standby's slot unused and then dropped, wal_log_hints turned off on a standby, and a second
// primary promoted by hand (two primaries, forked timelines). status shows the same per node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'
import { PG_CHECKS } from '../../lib/checks/postgres.ts'
import { verifyPair } from '../../lib/checks/runner.ts'
import { singletonsCheck } from '../../lib/checks/singletons.ts'
import type { CheckResult } from '../../lib/checks/types.ts'
import { pairStatus } from '../../lib/status.ts'
import { startPgLab } from '../postgres/_lab.ts'
import { failover, sql, vipOf, withPool } from '../postgres/_pg.ts'

const MAX_LAG = 65536
let lab: TestLab
test.before(async () => {
  lab = await startPgLab('sync', { maxLagBytes: MAX_LAG })
  await sql(vipOf(lab), 'create table t (n int, pad text)')
})
test.after(async () => {
  await lab?.down()
})

const pair = () => lab.inv.data.pairs[0]
async function psqlOn(node: string, q: string): Promise<string> {
  const r = await lab.exec(node, ['runuser', '-u', 'postgres', '--', 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '/var/run/postgresql', '-c', q])
  if (r.code !== 0) throw new Error(`${node}: ${q}: ${r.stderr}`)
  return r.stdout.trim()
}
async function pgCtl(node: string, ...cmds: string[]) {
  for (const c of cmds) {
    const r = await lab.exec(node, ['/var/lib/lab/bin/pg', c], { timeoutMs: 130_000 })
    if (r.code !== 0) throw new Error(`${node}: pg ${c}: ${r.stderr}${r.stdout}`)
  }
}
const verify = () => withPool(lab, (pool) => verifyPair(lab.inv, pair(), pool, PG_CHECKS))
const one = (rs: CheckResult[], node: string, check: string) => {
  const r = rs.filter((x) => x.node === node && x.check === check)
  assert.is(r.length, 1, `${node}/${check}`)
  return r[0]
}
const failed = (rs: CheckResult[]) =>
  rs
    .filter((r) => !r.ok)
    .map((r) => `${r.node}/${r.check}`)
    .sort()

/** Verify until every check passes (a repaired fault takes a moment to settle). */
async function untilHealthy(timeoutMs = 20_000): Promise<CheckResult[]> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const rs = await verify()
    if (rs.every((r) => r.ok) || Date.now() > end) return rs
    await new Promise((r) => setTimeout(r, 250))
  }
}

test('healthy: all five checks pass on both nodes; status shows role, timeline, replication, lag', async () => {
  const rs = await untilHealthy()
  assert.equal(failed(rs), [], rs.map((r) => `${r.node}/${r.check}: ${r.detail}`).join('\n'))
  assert.is(rs.length, 10)
  assert.match(one(rs, 'node-a', 'pg-primary').detail, /the only primary \(timeline 1\)/)
  assert.match(one(rs, 'node-b', 'pg-lag').detail, /streams from node-a, replay \d+ bytes .* behind \(max 65536\)/)
  assert.match(one(rs, 'node-a', 'pg-lag').detail, /streaming to node-b \(sync\)/)
  assert.match(one(rs, 'node-a', 'pg-slots').detail, /hapair_node_b active/)
  assert.match(one(rs, 'node-b', 'pg-rewind').detail, /wal_log_hints on/)
  const st = await withPool(lab, (pool) => pairStatus(lab.inv, pair(), pool))
  const [a, b] = st.nodes
  assert.equal([a.postgres?.role, a.postgres?.timeline, b.postgres?.role, b.postgres?.timeline], ['primary', 1, 'standby', 1])
  assert.match(a.postgres!.replication, /to node-b streaming \(sync\)/)
  assert.is(b.postgres!.replication, `streaming from ${pair().nodes[0].address}`)
  assert.type(b.postgres!.lagBytes, 'number')
  assert.equal(
    st.degradedReasons.filter((r) => r.startsWith('postgresql')),
    [],
  )
})

test('singletons on a healthy PostgreSQL pair: the standby runs a server, and it is not a second writer', async () => {
  const rs = await withPool(lab, (pool) => verifyPair(lab.inv, pair(), pool, [singletonsCheck]))
  assert.equal(failed(rs), [], rs.map((r) => `${r.node}/${r.check}: ${r.detail}`).join('\n'))
  assert.match(one(rs, 'node-a', 'singletons').detail, /db runs here only/)
})

test('pg-lag fails while replay is paused and the standby falls behind maxLagBytes; passes once resumed', async () => {
  await psqlOn('node-b', 'select pg_wal_replay_pause()')
  try {
    // Commits still return (sync mode waits for the standby's flush, not its replay).
    await sql(vipOf(lab), "insert into t select g, repeat('x', 1000) from generate_series(1, 2000) g")
    const rs = await verify()
    assert.equal(failed(rs), ['node-b/pg-lag'], rs.map((r) => `${r.node}/${r.check}: ${r.detail}`).join('\n'))
    assert.match(one(rs, 'node-b', 'pg-lag').detail, /WAL replay is paused.*replay lags node-a by \d+ bytes .* more than maxLagBytes 65536/)
    const st = await withPool(lab, (pool) => pairStatus(lab.inv, pair(), pool))
    assert.ok(
      st.degradedReasons.some((r) => /^postgresql on node-b: .*replay lags node-a/.test(r)),
      st.degradedReasons.join('\n'),
    )
    assert.ok(st.nodes[1].postgres!.lagBytes! > MAX_LAG && st.nodes[1].postgres!.replayPaused, JSON.stringify(st.nodes[1].postgres))
  } finally {
    await psqlOn('node-b', 'select pg_wal_replay_resume()')
  }
  assert.equal(failed(await untilHealthy()), [])
})

test('pg-slots fails when the standby stops using its slot, and when the slot is dropped; passes once restored', async () => {
  await psqlOn('node-b', "alter system set primary_slot_name = ''")
  await psqlOn('node-b', 'select pg_reload_conf()')
  try {
    // The WAL receiver restarts without the slot: the slot stays, inactive, keeping WAL.
    let rs: CheckResult[] = []
    const end = Date.now() + 15_000
    while (Date.now() < end && !/inactive/.test(one((rs = await verify()), 'node-a', 'pg-slots').detail)) await new Promise((r) => setTimeout(r, 200))
    assert.match(one(rs, 'node-a', 'pg-slots').detail, /slot hapair_node_b is inactive: node-b does not stream through it/)
    assert.not.ok(one(rs, 'node-a', 'pg-slots').ok)
    await psqlOn('node-a', "select pg_drop_replication_slot('hapair_node_b')")
    rs = await verify()
    assert.match(one(rs, 'node-a', 'pg-slots').detail, /slot hapair_node_b for node-b is missing/)
    assert.ok(failed(rs).includes('node-a/pg-slots'))
  } finally {
    await psqlOn(
      'node-a',
      "select pg_create_physical_replication_slot('hapair_node_b', true) where not exists (select 1 from pg_replication_slots where slot_name = 'hapair_node_b')",
    )
    await psqlOn('node-b', "alter system set primary_slot_name = 'hapair_node_b'")
    await psqlOn('node-b', 'select pg_reload_conf()')
  }
  assert.equal(failed(await untilHealthy()), [])
})

test('pg-rewind fails on a standby restarted with wal_log_hints off (no checksums in the lab); passes once on again', async () => {
  await psqlOn('node-b', 'alter system set wal_log_hints = off')
  try {
    await pgCtl('node-b', 'stop', 'start')
    const rs = await verify()
    assert.not.ok(one(rs, 'node-b', 'pg-rewind').ok)
    assert.match(one(rs, 'node-b', 'pg-rewind').detail, /wal_log_hints off and data checksums off: .* cannot be rewound/)
    assert.ok(one(rs, 'node-a', 'pg-rewind').ok)
  } finally {
    await psqlOn('node-b', 'alter system reset wal_log_hints')
    await pgCtl('node-b', 'stop', 'start')
  }
  assert.equal(failed(await untilHealthy()), [])
})

test('a second primary promoted by hand: pg-primary and pg-timeline fail on both nodes; a failover to the active node repairs it', async () => {
  await psqlOn('node-b', 'select pg_promote(true, 30)')
  const rs = await verify()
  for (const n of ['node-a', 'node-b']) {
    assert.match(one(rs, n, 'pg-primary').detail, /2 primaries \(node-a, node-b\)/, `${n}: ${one(rs, n, 'pg-primary').detail}`)
    assert.not.ok(one(rs, n, 'pg-timeline').ok, one(rs, n, 'pg-timeline').detail)
  }
  assert.match(one(rs, 'node-b', 'pg-timeline').detail, /timeline 2 here, but node-a is on 1/)
  assert.match(one(rs, 'node-a', 'pg-slots').detail, /hapair_node_b is inactive/)
  const st = await withPool(lab, (pool) => pairStatus(lab.inv, pair(), pool))
  assert.is(st.degraded, true)
  assert.ok(
    st.degradedReasons.some((r) => /2 primaries/.test(r)),
    st.degradedReasons.join('\n'),
  )
  assert.equal([st.nodes[0].postgres?.timeline, st.nodes[1].postgres?.role, st.nodes[1].postgres?.timeline], [1, 'primary', 2])
  // The way out the detail names: a failover to the active node stops the other and rewinds it.
  const r = await failover(lab, 'node-a')
  assert.ok(r.ok, `${r.error} ${JSON.stringify(r.steps)}`)
  const after = await untilHealthy()
  assert.equal(failed(after), [], after.map((x) => `${x.node}/${x.check}: ${x.detail}`).join('\n'))
  assert.match(one(after, 'node-b', 'pg-timeline').detail, /timeline 1, the primary's \(node-a\)/)
})

test.run()
