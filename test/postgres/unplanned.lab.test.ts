// Unplanned failover with real PostgreSQL in synchronous mode: the primary loses power while a
// client writes through the floating IP; the standby is promoted and no acknowledged row is lost.
// The old primary, powered on again, starts no PostgreSQL by itself, and rejoins as a standby.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'
import { labFault } from '../../lib/lab/index.ts'
import { rejoinPair } from '../../lib/postgres/rejoin-pair.ts'
import { startPgLab } from './_lab.ts'
import { Writer } from './_client.ts'
import { assertOnePrimaryStreaming, failover, missing, sql, states, vipOf, withPool } from './_pg.ts'

let lab: TestLab
test.before(async () => {
  lab = await startPgLab('sync')
  await sql(vipOf(lab), 'create table t (n int primary key)')
})
test.after(async () => {
  await lab?.down()
})

test('the primary powered off (sync mode): the standby takes over, no acknowledged row lost', async () => {
  const vip = vipOf(lab)
  const w = new Writer({ host: vip, table: 't' }).start()
  let t0 = 0
  try {
    await new Promise((r) => setTimeout(r, 500))
    t0 = Date.now()
    await labFault(lab.inv, 'kill', 'node-a')
    const r = await failover(lab, 'node-b')
    assert.ok(r.ok, `${r.error} ${JSON.stringify(r.steps)}`)
    assert.ok(
      r.warnings.some((x) => /synchronous standby/.test(x)),
      `says why the promotion is safe: ${r.warnings}`,
    )
    await new Promise((res) => setTimeout(res, 500))
  } finally {
    await w.stop()
  }
  const lost = await missing(vip, 't', w.acked)
  assert.equal(lost, [], `acknowledged rows lost: ${lost.slice(0, 10)}`)
  const st = await states(lab)
  assert.is(st['node-b']?.role, 'primary')
  console.log(
    `  pg unplanned (power off, sync): write unavailability ${w.gap(t0, Date.now() - 500)} ms (failover started at once), ${w.acked.length} acknowledged, ${lost.length} lost`,
  )
})

test('the old primary returns: no PostgreSQL starts by itself; it rejoins as a standby', async () => {
  await labFault(lab.inv, 'start', 'node-a')
  const st = await states(lab)
  assert.is(st['node-a']?.role, 'down', 'power-on starts no database: it must not accept writes')
  assert.is(st['node-a']?.control?.state, 'in production', 'it lost power as a primary')
  const out = await withPool(lab, (pool) => rejoinPair(lab.inv, pool, lab.inv.data.pairs[0]))
  assert.ok(
    out.some((l) => /node-a streams from node-b/.test(l)),
    out.join('; '),
  )
  await assertOnePrimaryStreaming(lab, 'node-b')
  // And synchronous replication is back: a commit waits for node-a again.
  const after = await states(lab)
  assert.match(after['node-b']!.syncNames ?? '', /node-a/)
})

test.run()
