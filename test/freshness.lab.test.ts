// Freshness measured on real lab nodes: a node that missed a write is behind for that item and
// only that item; after a sync it is not; a difference in a protected path does not count; an
// item the version policy skipped stays behind (the records would have called it done).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { behind } from '../lib/freshness.ts'
import { SshPool } from '../lib/ssh.ts'
import { runSync } from '../lib/sync/index.ts'
import { startTestLab, type TestLab } from './helpers/lab.ts'
import { loud, script } from './sync/_lab.ts'

let lab: TestLab
let pool: SshPool
const pair = () => lab.inv.data.pairs[0]
const measure = async () => (await behind(pool, pair(), 'node-a', ['node-b']))['node-b']
const sync = async () => {
  const p = new SshPool(lab.inv)
  try {
    return await runSync(lab.inv, pair(), p)
  } finally {
    p.close()
  }
}

test.before(
  loud(async () => {
    lab = await startTestLab()
    pool = new SshPool(lab.inv)
    const rep = await sync()
    assert.is(rep.exitCode, 0, JSON.stringify(rep.results))
  }),
)
test.after(async () => {
  pool?.close()
  await lab?.down()
})

test('after a sync: not behind', async () => {
  assert.equal(await measure(), [])
})

test('a write node-b missed: behind for that item only, naming the path; after a sync it is not', async () => {
  await script(lab, 'node-a', 'echo new > /srv/app/missed-write')
  const lags = await measure()
  assert.equal(
    lags.map((l) => l.item),
    ['app'],
  )
  assert.match(lags[0].why, /missed-write \(missing here\)/)
  assert.is((await sync()).exitCode, 0)
  assert.equal(await measure(), [])
})

test('protected paths differ (item-level and pair-wide): not behind', async () => {
  await script(lab, 'node-b', 'mkdir -p /srv/app/local; echo b-only > /srv/app/local/mine; echo b > /srv/app/.rhosts')
  await script(lab, 'node-a', 'echo a > /srv/app/.rhosts')
  assert.equal(await measure(), [])
})

test('an item the version policy skipped stays behind', async () => {
  await script(lab, 'node-b', 'echo 2 > /var/lib/app/data-version')
  await script(lab, 'node-a', 'echo skipped > /srv/app/skipped-by-policy')
  const rep = await sync()
  assert.is(rep.results.find((r) => r.item === 'app' && r.target === 'node-b')!.outcome, 'skipped')
  const lags = await measure()
  assert.equal(
    lags.map((l) => l.item),
    ['app'],
  )
  assert.match(lags[0].why, /skipped-by-policy/)
  await script(lab, 'node-b', 'echo 1 > /var/lib/app/data-version')
})

test('an unreachable target says so', async () => {
  const inv = structuredClone(lab.inv)
  const b = inv.data.pairs[0].nodes.find((n) => n.name === 'node-b')!
  b.address = lab.inv.data.pairs[0].nodes[0].address.replace(/\.\d+$/, (m) => `.${Number(m.slice(1)) - 11 + 29}`)
  b.ssh = { ...(b.ssh ?? {}), connectTimeoutMs: 500 }
  const p = new SshPool(inv)
  try {
    const got = (await behind(p, inv.data.pairs[0], 'node-a', ['node-b']))['node-b']
    assert.ok(got.length > 0 && got.every((l) => l.why.startsWith('unreachable: ')), JSON.stringify(got))
  } finally {
    p.close()
  }
})

test.run()
