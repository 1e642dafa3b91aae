// The partition matrix, part 2 (lab, real): what must not fool the watcher (a flapping link,
// packet loss), what must not make two of it act (a second watcher, a watcher killed in the
// middle of a takeover), a service dying on a live node, and a maintenance pause. The
// invariant sampler runs through all of it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { startInvariant, type InvariantReport } from '../helpers/invariant.ts'
import { startWatcher, type WatcherProcess } from '../helpers/watcher.ts'
import { playbook } from '../helpers/playbook.ts'
import { labFault, labHealAll, labLoss, labPowerState } from '../../lib/lab/index.ts'

let lab: TestLab
let inv: ReturnType<typeof startInvariant>
let vip: string
let report: InvariantReport | undefined
const watchers: WatcherProcess[] = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const SOAK_S = Number(process.env.HAPAIR_SOAK_S ?? 20)

async function active(): Promise<string> {
  const h = await lab.holders(vip)
  assert.is(h.length, 1, `VIP holders: ${h.join(', ')}`)
  return h[0]
}
const other = (n: string) => (n === 'node-a' ? 'node-b' : 'node-a')
// Every test starts with no watcher of an earlier one left running: a test that failed before
// its stop() would otherwise still be watching (and taking over) in the next test.
// And the lab whole again: a failed test leaves its fault (a cut link, a fenced node) behind.
test.before.each(async () => {
  for (const w of watchers.splice(0)) await w.stop()
  let off = false
  await labHealAll(lab.inv)
  for (const n of lab.inv.data.pairs[0].nodes)
    if (labPowerState(lab.inv, n.name) === 'off') {
      off = true
      await labFault(lab.inv, 'start', n.name)
    }
  if (off) await sleep(1000)
})
/** An exit with a deadline: a watcher that never gets there is a failure, not a hung suite. */
const exitWithin = (w: WatcherProcess, ms: number) =>
  Promise.race([
    w.exited,
    sleep(ms).then(() => {
      throw new Error(`watcher still running after ${ms} ms; events: ${w.events.map((e) => e.event).join(', ')}`)
    }),
  ])
async function watcher(env: Record<string, string> = {}): Promise<WatcherProcess> {
  const w = startWatcher(lab.file, { env })
  watchers.push(w)
  await w.waitFor((e) => e.event === 'started', 20_000)
  await sleep(400)
  return w
}
async function restore(old: string): Promise<void> {
  await labHealAll(lab.inv)
  if (labPowerState(lab.inv, old) === 'off') await labFault(lab.inv, 'start', old)
  await sleep(1000)
}
/** The epoch recorded on a node (0: no record yet). */
const epochOf = async (node: string) => {
  const r = await lab.exec(node, ['sh', '-c', 'cat /var/lib/hapair/demo/active.json 2>/dev/null || printf \'{"epoch":0}\''])
  return JSON.parse(r.stdout).epoch as number
}

test.before(async () => {
  lab = await startTestLab({
    mutate: (j) => {
      j.pairs[0].watch = { holdDownMs: 1000, maxTakeoversPerHour: 100, maxRestarts: 2 }
    },
  })
  vip = lab.inv.data.pairs[0].floatingIps![0].address
  inv = startInvariant(lab)
  await inv.ready
})
test.after(async () => {
  for (const w of watchers) await w.stop()
  if (!report) await inv?.stop().catch(() => undefined)
  await lab?.down()
})

test(`20% random loss on the active node's link for ${SOAK_S} s: no takeover`, async () => {
  const w = await watcher()
  const a = await active()
  await labLoss(lab.inv, a, 20)
  await sleep(SOAK_S * 1000)
  await labLoss(lab.inv, a, 0)
  await sleep(300)
  const acted = w.events.filter((e) => ['confirmed', 'takeover-started'].includes(e.event))
  assert.equal(acted, [], JSON.stringify(acted))
  assert.is(await active(), a)
  await w.stop()
})

test('a flapping link (cut/heal every 300 ms for 10 s): at most one takeover', async () => {
  const w = await watcher()
  const a = await active()
  const end = Date.now() + 10_000
  let cut = false
  while (Date.now() < end) {
    cut = !cut
    await labFault(lab.inv, cut ? 'isolate' : 'heal', a).catch(() => undefined) // fenced mid-flap: nothing left to cut
    await sleep(300)
  }
  await labHealAll(lab.inv)
  await sleep(1500)
  assert.ok(w.count('takeover-started') <= 1, JSON.stringify(w.events.map((e) => e.event)))
  assert.is((await lab.holders(vip)).length, 1)
  await w.stop()
  await restore(a)
})

test('two watchers: exactly one takes over', async () => {
  const a = await active()
  // The newest record of the pair, wherever it is: other(a)'s may be older (it was down when
  // the last takeover was recorded), and the new epoch must be above both.
  const before = Math.max(await epochOf(a), await epochOf(other(a)))
  const w1 = await watcher()
  const w2 = await watcher()
  await labFault(lab.inv, 'isolate', a)
  await Promise.all([w1, w2].map((w) => w.waitFor((e) => ['takeover-done', 'takeover-skipped', 'takeover-failed'].includes(e.event), 10_000)))
  await sleep(1500)
  const done = w1.count('takeover-done') + w2.count('takeover-done')
  assert.is(done, 1, JSON.stringify([w1.events.map((e) => e.event), w2.events.map((e) => e.event)]))
  assert.is(await epochOf(other(a)), before + 1)
  assert.is(await active(), other(a))
  await w1.stop()
  await w2.stop()
  await restore(a)
})

test('the watcher killed in the middle of a takeover, restarted: it converges', async () => {
  const a = await active()
  const w1 = await watcher({ HAPAIR_CRASH_AFTER_STEP: 'fence' })
  await labFault(lab.inv, 'isolate', a)
  await exitWithin(w1, 15_000)
  assert.is(w1.child.signalCode, 'SIGKILL')
  // Half-switched: a fenced, the address not yet moved (or moved, the records not written).
  assert.is(labPowerState(lab.inv, a), 'off')
  const w2 = await watcher()
  const done = await w2.waitFor((e) => e.event === 'takeover-done' || e.event === 'takeover-failed', 15_000)
  assert.is(done.event, 'takeover-done', JSON.stringify(done))
  assert.is(done.to, other(a))
  assert.is(await active(), other(a))
  assert.equal(await lab.runningOn('db'), [other(a)])
  await w2.stop()
  await restore(a)
})

test('the db dies on a live active node: restarted by policy, no takeover', async () => {
  const w = await watcher()
  const a = await active()
  const mark = w.events.length
  await lab.exec(a, ['sh', '-c', 'kill -9 "$(cat /var/lib/lab/run/db.pid)"'])
  const r = await w.waitFor((e) => e.event === 'service-restarted', 8000, mark)
  assert.is(r.service, 'db')
  assert.is(r.node, a)
  await sleep(500)
  assert.equal(await lab.runningOn('db'), [a])
  assert.is(w.count('takeover-started', mark), 0)
  await w.stop()
})

test('paused for maintenance: a dead active node is not taken over; resumed, it is', async () => {
  const w = await watcher()
  const a = await active()
  const p = await playbook('watch', ['pause', '--inventory', lab.file, '--pair', 'demo', '--for', '10m', '--reason', 'kernel update'])
  assert.is(p.code, 0, p.stderr)
  assert.match(p.stdout, 'paused until')
  await w.waitFor((e) => e.event === 'paused', 5000)
  const mark = w.events.length
  await labFault(lab.inv, 'isolate', a)
  await sleep(1500)
  assert.is(w.count('takeover-started', mark), 0)
  assert.ok(w.events.slice(mark).some((e) => e.event === 'paused' && /no automatic action/.test(e.detail)))
  const st = await playbook('watch', ['status', '--inventory', lab.file, '--json'])
  assert.is(JSON.parse(st.stdout)[0].paused, true)
  // The pause is read from the surviving node; resuming there is enough.
  const r = await playbook('watch', ['resume', '--inventory', lab.file, '--pair', 'demo'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, `not on ${a}: unreachable`)
  await w.waitFor((e) => e.event === 'resumed', 10_000)
  // Still dead after the resume: the watcher now acts (a fresh episode of evidence).
  await labFault(lab.inv, 'heal', a)
  await sleep(500)
  const mark2 = w.events.length
  await labFault(lab.inv, 'isolate', a)
  const done = await w.waitFor((e) => e.event === 'takeover-done', 8000, mark2)
  assert.is(done.to, other(a))
  await w.stop()
  await restore(a)
})

test('the watcher itself stopped for 2 s (SIGSTOP) on a healthy pair: it re-probes, no takeover', async () => {
  const w = await watcher()
  const a = await active()
  const mark = w.events.length
  process.kill(w.child.pid!, 'SIGSTOP')
  await sleep(2000)
  process.kill(w.child.pid!, 'SIGCONT')
  const st = await w.waitFor((e) => e.event === 'stalled', 3000, mark)
  assert.ok(st.gapMs >= 1500, JSON.stringify(st))
  await sleep(1000)
  assert.is(w.count('confirmed', mark), 0, JSON.stringify(w.events.slice(mark)))
  assert.is(await active(), a)
  await w.stop()
})

test('the floating IP gone from a live active node: reported (vip-unserved), no takeover', async () => {
  const w = await watcher()
  const a = await active()
  const mark = w.events.length
  const prefix = lab.inv.data.pairs[0].floatingIps![0].prefix ?? 32
  await lab.exec(a, ['ip', 'addr', 'del', `${vip}/${prefix}`, 'dev', 'eth0'])
  try {
    const e = await w.waitFor((x) => x.event === 'vip-unserved', 12_000, mark)
    assert.is(e.node, a)
    assert.match(e.detail, `failover.ts --to ${a}`)
    assert.is(w.count('takeover-started', mark), 0)
  } finally {
    await lab.exec(a, ['ip', 'addr', 'add', `${vip}/${prefix}`, 'dev', 'eth0'])
    await lab.exec(a, ['arping', '-q', '-U', '-c', '1', '-I', 'eth0', vip]).catch(() => undefined)
  }
  await w.stop()
})

test('no invariant violation in any of it', async () => {
  report = await inv.stop()
  assert.ok(report.samples > 1000, `only ${report.samples} samples`)
  assert.equal(report.violations, [])
})

test.run()
