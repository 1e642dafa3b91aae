// The partition matrix, part 1 (lab, real): faults that must end in a takeover, and
// partitions that must not. One watcher process runs through all of them while the
// invariant sampler reads every namespace every 10 ms: never two holders of the floating IP,
// never the singleton on two nodes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, readFileSync } from 'node:fs'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { startInvariant, type InvariantReport } from '../helpers/invariant.ts'
import { startWatcher, type WatcherProcess } from '../helpers/watcher.ts'
import { labFault, labHealAll, labPartition, labPause, labResume, labPowerState } from '../../lib/lab/index.ts'

let lab: TestLab
let inv: ReturnType<typeof startInvariant>
let w: WatcherProcess
let vip: string
let report: InvariantReport | undefined
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function active(): Promise<string> {
  const h = await lab.holders(vip)
  assert.is(h.length, 1, `VIP holders: ${h.join(', ')}`)
  return h[0]
}
const other = (n: string) => (n === 'node-a' ? 'node-b' : 'node-a')

/** Power the old active back on as a standby and wait until the watcher probes it again. */
async function restore(old: string): Promise<void> {
  await labHealAll(lab.inv)
  if (labPowerState(lab.inv, old) === 'off') await labFault(lab.inv, 'start', old)
  await sleep(1500)
}

async function takeoverAfter(fault: () => Promise<unknown>, timeoutMs = 8000) {
  const from = await active()
  const mark = w.events.length
  const t0 = Date.now()
  await fault()
  const done = await w.waitFor((e) => e.event === 'takeover-done' || e.event === 'takeover-failed', timeoutMs, mark)
  assert.is(done.event, 'takeover-done', JSON.stringify(done))
  assert.is(done.from, from)
  assert.is(done.to, other(from))
  assert.is(await active(), other(from))
  assert.equal(await lab.runningOn('db'), [other(from)])
  return { from, ms: Date.now() - t0, mark }
}

test.before(async () => {
  lab = await startTestLab({
    mutate: (j) => {
      j.pairs[0].watch = { holdDownMs: 1000, maxTakeoversPerHour: 100 }
    },
  })
  vip = lab.inv.data.pairs[0].floatingIps![0].address
  inv = startInvariant(lab)
  await inv.ready
  w = startWatcher(lab.file)
  await w.waitFor((e) => e.event === 'started', 20_000)
  await sleep(500)
})
test.after(async () => {
  await w?.stop()
  if (!report) await inv?.stop().catch(() => undefined)
  await lab?.down()
})

test("the active node's link cut: the standby takes over, the old one is powered off", async () => {
  const r = await takeoverAfter(() => labFault(lab.inv, 'isolate', 'node-a'))
  const confirmed = w.events.slice(r.mark).find((e) => e.event === 'confirmed')
  assert.is(confirmed.how, 'dead')
  assert.equal(confirmed.agree, ['node-b'])
  assert.is(labPowerState(lab.inv, r.from), 'off')
  await restore(r.from)
})

test('the active node powered off: takeover', async () => {
  const from = await active()
  const r = await takeoverAfter(() => labFault(lab.inv, 'kill', from))
  await restore(r.from)
})

test('the active node paused 3 s then resumed: takeover, and once resumed it serves nothing', async () => {
  const from = await active()
  const mark = w.events.length
  await labPause(lab.inv, from)
  const done = await w.waitFor((e) => e.event === 'takeover-done' || e.event === 'takeover-failed', 8000, mark)
  assert.is(done.event, 'takeover-done', JSON.stringify(done))
  assert.is(w.events.slice(mark).find((e) => e.event === 'confirmed').how, 'hung')
  await sleep(Math.max(0, 3000 - (Date.now() - done.ms)))
  await labResume(lab.inv, from).catch(() => undefined) // fenced: nothing is left to resume
  await sleep(300)
  assert.equal(await lab.holders(vip), [other(from)])
  assert.equal(await lab.runningOn('db'), [other(from)])
  await restore(from)
})

for (const [name, cut, vetoWanted] of [
  ['only watcher <-> active cut: vetoed by the standby, no takeover', (a: string) => labPartition(lab.inv, 'controller', a), true],
  ['only standby <-> active cut: no takeover', (a: string) => labPartition(lab.inv, other(a), a), false],
  ['only watcher <-> standby cut: no takeover', (a: string) => labPartition(lab.inv, 'controller', other(a)), false],
] as const) {
  test(name, async () => {
    const a = await active()
    const mark = w.events.length
    await cut(a)
    await sleep(3000)
    await labHealAll(lab.inv)
    await sleep(500)
    assert.is(w.count('takeover-started', mark), 0, JSON.stringify(w.events.slice(mark)))
    assert.is(w.count('confirmed', mark), 0)
    if (vetoWanted) assert.ok(w.count('vetoed', mark) >= 1, JSON.stringify(w.events.slice(mark)))
    assert.is(await active(), a)
  })
}

test('no fencing and no guard: the watcher alerts and does not take over', async () => {
  const a = await active()
  const j = JSON.parse(readFileSync(lab.file, 'utf8'))
  j.pairs[0].fencing = { driver: 'none' }
  const file = lab.file.replace(/\.json$/, '-nofence.json')
  writeFileSync(file, JSON.stringify(j))
  await w.stop()
  const u = startWatcher(file)
  try {
    await u.waitFor((e) => e.event === 'started', 20_000)
    await sleep(500)
    await labFault(lab.inv, 'isolate', a)
    const alert = await u.waitFor((e) => e.event === 'unfenced', 5000)
    assert.match(alert.detail, 'no fencing driver')
    await sleep(1000)
    assert.is(u.count('takeover-started'), 0)
    await labHealAll(lab.inv)
    await sleep(300)
    assert.is(await active(), a)
  } finally {
    await u.stop()
  }
})

test('no invariant violation through the whole matrix', async () => {
  report = await inv.stop()
  assert.ok(report.samples > 1000, `only ${report.samples} samples`)
  assert.equal(report.violations, [])
})

test.run()
