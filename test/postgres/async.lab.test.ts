// Unplanned failover with real PostgreSQL in asynchronous mode (lab, real): a commit is
// acknowledged on the primary alone, so a failover may lose what the standby had not received.
// hapair never hides that: with the primary's link cut, the standby still knows how far the
// primary had written; the promotion goes ahead only within maxLagBytes and the result names the
// bytes that may be lost. When the primary's server died before its link (the replication
// connection closed), the standby's WAL receiver has stopped and the loss cannot be measured:
// refused (exit 3) unless --force, which says what it risks. A node that rejoins learns the
// current epoch, so the next takeover's epoch is above it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'
import { RefusedError } from '../../lib/errors.ts'
import { labFault, labHealAll } from '../../lib/lab/index.ts'
import { rejoinPair } from '../../lib/postgres/rejoin-pair.ts'
import { startPgLab } from './_lab.ts'
import { Writer } from './_client.ts'
import { failover, missing, sql, states, vipOf, withPool } from './_pg.ts'

let lab: TestLab
const MAX_LAG = 16 * 1024 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
test.before(async () => {
  try {
    lab = await startPgLab('async', { maxLagBytes: MAX_LAG })
  } catch (e) {
    console.error('test setup failed:', e)
    throw e
  }
})
test.after(async () => {
  await lab?.down()
})

test("async, the primary's link cut: promoted within maxLagBytes, the possible loss named in bytes", async () => {
  const vip = vipOf(lab)
  await sql(vip, 'create table c (n int primary key)')
  const w = new Writer({ host: vip, table: 'c' }).start()
  let r
  try {
    await sleep(500)
    await labFault(lab.inv, 'isolate', 'node-a')
    r = await failover(lab, 'node-b')
    await sleep(300)
  } finally {
    await w.stop()
  }
  assert.ok(r.ok, `${r.error} ${JSON.stringify(r.steps)}`)
  const said = r.warnings.find((x) => /asynchronous replication: commits after/.test(x))
  assert.ok(said, `names the possible loss: ${r.warnings}`)
  const bytes = Number(/\((\d+) bytes known missing/.exec(said!)?.[1])
  assert.ok(bytes >= 0 && bytes <= MAX_LAG, said)
  const lost = await missing(vip, 'c', w.acked)
  console.log(`  pg async link cut: ${w.acked.length} acknowledged, ${lost.length} lost (${bytes} bytes known missing at promotion)`)
  assert.is((await states(lab))['node-b']?.role, 'primary')
  await labHealAll(lab.inv)
  await labFault(lab.inv, 'start', 'node-a')
  await withPool(lab, (pool) => rejoinPair(lab.inv, pool, lab.inv.data.pairs[0]))
})

test("async, the primary's server died and then its link: the loss cannot be measured, refused (exit 3); --force promotes and says the risk", async () => {
  // A real power cut keeps the standby's receiver "streaming" until its timeout (the first test's
  // case). A server that died first closed its replication connection: the standby's receiver
  // has stopped and no longer knows how far the primary had written.
  const kill = await lab.exec('node-b', ['sh', '-c', 'kill -KILL "$(head -n 1 /var/lib/postgresql/15/lab/postmaster.pid)"'])
  assert.is(kill.code, 0, kill.stderr)
  const end = Date.now() + 10_000
  while ((await states(lab))['node-a']?.receiver?.status === 'streaming' && Date.now() < end) await sleep(100)
  await labFault(lab.inv, 'isolate', 'node-b')
  // RefusedError is exit 3 in a playbook.
  const refusal = await failover(lab, 'node-a').then(
    (r) => assert.unreachable(`not refused: ${JSON.stringify(r.steps)}`),
    (e) => e,
  )
  assert.instance(refusal, RefusedError, refusal?.message)
  assert.match(refusal.message, /WAL receiver stopped/)
  assert.is((await states(lab))['node-a']?.role, 'standby', 'nothing was promoted')
  const forced = await failover(lab, 'node-a', { force: true })
  assert.ok(forced.ok, forced.error)
  assert.ok(
    forced.warnings.some((x) => /acknowledged commits of node-b may be missing/.test(x)),
    JSON.stringify(forced.warnings),
  )
  assert.is((await states(lab))['node-a']?.role, 'primary')
  // The records: node-a learnt epoch 1 when it rejoined (first test), so this takeover is epoch 2.
  assert.match(forced.steps.find((x) => x.name === 'record')?.detail ?? '', /^epoch 2: node-a active/)
})

test.run()
