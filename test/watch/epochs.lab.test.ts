// Epochs across takeovers whose old active node was down while the new record was written
// (lab, real): the record with the newest epoch may sit on the node that just died. A takeover
// must still get a new epoch above every one the watcher has seen, and a stale record at the
// epoch the watcher holds must not make it believe another node is active. Both happened in a
// bench run: two records at one epoch naming different nodes, then a watcher that "followed" the
// stale one and left the dead active node alone.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { startWatcher } from '../helpers/watcher.ts'
import { labFault, labHealAll, labPartition, labPowerState } from '../../lib/lab/index.ts'

let lab: TestLab
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const record = async (node: string) => {
  const r = await lab.exec(node, ['cat', '/var/lib/hapair/demo/active.json'])
  return r.code === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : undefined
}
async function restore(node: string) {
  await labHealAll(lab.inv)
  if (labPowerState(lab.inv, node) === 'off') await labFault(lab.inv, 'start', node)
}
/** A fresh watcher (as after a restart), the fault on `from`, its takeover-done event. */
async function takeover(fault: 'isolate' | 'kill', from: string) {
  const w = startWatcher(lab.file)
  try {
    const started = await w.waitFor((e) => e.event === 'started', 20_000)
    await sleep(1000)
    const mark = w.events.length
    await labFault(lab.inv, fault, from)
    const done = await w.waitFor((e) => e.event === 'takeover-done' || e.event === 'takeover-failed', 10_000, mark)
    return { started, done }
  } finally {
    await w.stop()
  }
}

test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

test('a takeover while the newest record is on the dead node still gets a higher epoch', async () => {
  const first = await takeover('isolate', 'node-a')
  assert.is(first.done.event, 'takeover-done', JSON.stringify(first.done))
  assert.is(first.done.to, 'node-b')
  const e1 = first.done.epoch
  // node-a was powered off by the fence: it never got the record of epoch e1.
  await restore('node-a')
  assert.ok(!((await record('node-a'))?.epoch >= e1), JSON.stringify(await record('node-a')))
  const second = await takeover('kill', 'node-b')
  assert.is(second.started.epoch, e1)
  assert.is(second.done.event, 'takeover-done', JSON.stringify(second.done))
  assert.is(second.done.to, 'node-a')
  // node-a's own records knew nothing above e1 - 1: only the watcher's memory of node-b's says e1.
  assert.is(second.done.epoch, e1 + 1)
  await restore('node-b')
})

test("a stale record at the watcher's epoch naming another node is not followed; the dead active is still taken over", async () => {
  const now = await record('node-a')
  assert.is(now?.active, 'node-a')
  // What the collision left: node-b's record at node-a's epoch, naming node-b, written earlier.
  const stale = { ...now, active: 'node-b', from: 'node-a', since: new Date(Date.parse(now.since) - 60_000).toISOString() }
  const put = await lab.exec('node-b', ['sh', '-c', 'cat > /var/lib/hapair/demo/active.json'], { input: JSON.stringify(stale) })
  assert.is(put.code, 0, put.stderr)
  const w = startWatcher(lab.file)
  try {
    const started = await w.waitFor((e) => e.event === 'started', 20_000)
    assert.is(started.active, 'node-a', 'the newer record (same epoch, later) names node-a')
    await sleep(1000)
    // The watcher alone cut from node-a: its re-reads (every 2 s) see only node-b's stale record.
    const mark = w.events.length
    await labPartition(lab.inv, 'controller', 'node-a')
    await sleep(5000)
    await labHealAll(lab.inv)
    assert.is(w.count('active-changed', mark), 0, JSON.stringify(w.events.slice(mark)))
    assert.is(w.count('takeover-started', mark), 0, 'node-b still saw node-a: no takeover')
    await sleep(1000)
    const mark2 = w.events.length
    await labFault(lab.inv, 'kill', 'node-a')
    const done = await w.waitFor((e) => e.event === 'takeover-done' || e.event === 'takeover-failed', 10_000, mark2)
    assert.is(done.event, 'takeover-done', JSON.stringify(done))
    assert.is(done.to, 'node-b')
    assert.ok(done.epoch > now.epoch)
  } finally {
    await w.stop()
  }
  await restore('node-a')
})

test.run()
