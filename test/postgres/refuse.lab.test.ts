// Preflight refusals with real PostgreSQL: a target that lags more than maxLagBytes, and a
// target whose replication connection is broken, are refused (exit 3) and nothing changes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'
import { RefusedError } from '../../lib/errors.ts'
import { startPgLab } from './_lab.ts'
import { failover, sql, states, vipOf } from './_pg.ts'

const PG = '/var/lib/postgresql/15/lab'
let lab: TestLab
test.before(async () => {
  lab = await startPgLab('async', { maxLagBytes: 65536 })
  await sql(vipOf(lab), 'create table t (n int, pad text)')
})
test.after(async () => {
  await lab?.down()
})

const psqlOn = (node: string, q: string) => lab.exec(node, ['runuser', '-u', 'postgres', '--', 'psql', '-XAtq', '-h', '/var/run/postgresql', '-c', q])

async function refused(to: string): Promise<string> {
  try {
    const r = await failover(lab, to)
    assert.unreachable(`not refused: ${JSON.stringify(r.steps)}`)
  } catch (e) {
    assert.instance(e, RefusedError, (e as Error).message)
    return (e as Error).message
  }
  return ''
}

async function unchanged() {
  const st = await states(lab)
  assert.is(st['node-a']?.role, 'primary', 'node-a still primary')
  assert.is(st['node-b']?.role, 'standby', 'node-b still standby')
  assert.equal(await lab.holders(vipOf(lab)), ['node-a'])
}

test('a target behind by more than maxLagBytes is refused', async () => {
  assert.is((await psqlOn('node-b', 'select pg_wal_replay_pause()')).code, 0)
  try {
    await sql(vipOf(lab), "insert into t select g, repeat('x', 1000) from generate_series(1, 2000) g")
    const msg = await refused('node-b')
    assert.match(msg, /lags node-a by \d+ bytes .* more than maxLagBytes 65536/)
    await unchanged()
  } finally {
    await psqlOn('node-b', 'select pg_wal_replay_resume()')
  }
})

test('a target whose replication connection is broken is refused', async () => {
  const conf = `${PG}/postgresql.auto.conf`
  // Point it at a port nothing listens on (on the primary's own address: never outside the lab).
  assert.is((await lab.exec('node-b', ['sed', '-i', 's/ port=5432 / port=1 /', conf])).code, 0)
  await psqlOn('node-b', 'select pg_reload_conf()')
  await psqlOn('node-b', 'select pg_terminate_backend(pid) from pg_stat_wal_receiver')
  try {
    const end = Date.now() + 10000
    while ((await states(lab))['node-b']?.receiver?.status === 'streaming' && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
    const msg = await refused('node-b')
    assert.match(msg, /node-b is not streaming from node-a/)
    await unchanged()
  } finally {
    await lab.exec('node-b', ['sed', '-i', 's/ port=1 / port=5432 /', conf])
    await psqlOn('node-b', 'select pg_reload_conf()')
  }
})

test.run()
