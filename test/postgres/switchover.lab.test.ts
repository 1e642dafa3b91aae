// Planned switchover and back with real PostgreSQL (sync mode) under a client writing numbered
// rows through the floating IP: every acknowledged row survives, one primary at a time, and the
// old primary streams again from the new one after every switch.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'
import { startPgLab } from './_lab.ts'
import { Writer } from './_client.ts'
import { assertOnePrimaryStreaming, failover, median, missing, sql, vipOf } from './_pg.ts'

const ROUNDS = Number(process.env.HAPAIR_PG_ROUNDS ?? 5)
let lab: TestLab
test.before(async () => {
  lab = await startPgLab('sync')
  await sql(vipOf(lab), 'create table t (n int primary key, at timestamptz default clock_timestamp())')
})
test.after(async () => {
  await lab?.down()
})

test(`planned switchover and back, ${ROUNDS} times, under writes: nothing acknowledged lost`, async () => {
  const vip = vipOf(lab)
  const w = new Writer({ host: vip, table: 't' }).start()
  const gaps: number[] = []
  try {
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 0; i < ROUNDS; i++) {
      for (const [to, from] of [
        ['node-b', 'node-a'],
        ['node-a', 'node-b'],
      ]) {
        const before = w.acked.length
        const t0 = Date.now()
        const r = await failover(lab, to)
        const t1 = Date.now()
        assert.ok(r.ok, `failover to ${to}: ${r.error} ${JSON.stringify(r.steps)}`)
        assert.not.ok(r.warnings.length, `no warnings: ${r.warnings.join('; ')}`)
        await new Promise((res) => setTimeout(res, 200))
        assert.ok(w.acked.length > before, `writes go on after the switch to ${to}`)
        gaps.push(w.gap(t0, t1))
        await assertOnePrimaryStreaming(lab, to)
        void from
      }
    }
  } finally {
    await w.stop()
  }
  const lost = await missing(vip, 't', w.acked)
  assert.equal(lost, [], `acknowledged rows missing: ${lost.slice(0, 10)}`)
  console.log(
    `  pg planned: ${gaps.length} switchovers, write unavailability median ${median(gaps)} ms, max ${Math.max(...gaps)} ms; ${w.acked.length} rows acknowledged, ${lost.length} lost, ${w.unknown.length} unknown`,
  )
})

test.run()
