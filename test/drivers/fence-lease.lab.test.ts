// The lease fencing driver on a real lab pair, with the active node cut off (lab fault isolate):
// its power state reads 'on' until the ledger deadline and 'off' after, stop() waits exactly that
// long, and a whole failover by the playbook succeeds without the VIP ever being on both nodes,
// node-a having given it up by itself.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { RemoteError } from '../../lib/errors.ts'
import { fenceDriver } from '../../lib/drivers/index.ts'
import type { LeaseFenceDriver } from '../../lib/drivers/fence-lease.ts'
import { holdsAddress } from '../../lib/drivers/ip-linux.ts'
import type { Node, Pair } from '../../lib/inventory/schema.ts'
import { LEASE, leaseInventory, sleep, startRenewer } from '../guard/_lease.ts'
import { startInvariant } from '../helpers/invariant.ts'

let lab: TestLab
let pair: Pair
let A: Node
let vip: string
const DIR = '/var/lib/hapair/demo'
// A quick connect timeout, so an unreachable node is known as such well inside one lease.
const mutate = leaseInventory((j) => {
  j.defaults.ssh.connectTimeoutMs = 1000
})

test.before(async () => {
  lab = await startTestLab({ mutate })
  pair = lab.inv.data.pairs[0]
  A = pair.nodes[0]
  vip = pair.floatingIps![0].address
})
test.after(async () => {
  await lab?.down()
})

function driver(): { d: LeaseFenceDriver; pool: SshPool } {
  const pool = new SshPool(lab.inv)
  return { d: fenceDriver({ inv: lab.inv, pair, pool }) as LeaseFenceDriver, pool }
}
/** Looks into the node's namespaces directly: works while its cable is pulled. */
async function serving(node: string): Promise<{ vip: boolean; db: boolean }> {
  const r = await lab.exec(node, ['sh', '-c', 'ip -o addr show dev eth0; echo "db=$(/var/lib/lab/bin/svc status db >/dev/null 2>&1; echo $?)"'])
  return { vip: holdsAddress(r.stdout, vip), db: /db=0/.test(r.stdout) }
}

test('node-a isolated: status is on until the ledger deadline and off after; stop() waits until then', async () => {
  const { d, pool } = driver()
  const r = startRenewer(d, A)
  let isolated = 0
  try {
    await sleep(600)
    assert.equal(r.failed, [])
    await labFault(lab.inv, 'isolate', 'node-a')
    isolated = Date.now()
    // The survivor's ledger still takes the renewal in flight; node-a gets none any more.
    await sleep(400)
  } finally {
    await r.stop({ wait: false })
  }
  // A renewal in flight wrote the ledger within milliseconds; its write to node-a hangs until its timeout.
  await sleep(300)
  assert.equal(
    r.ok.filter((x) => x.at > isolated),
    [],
    'a renewal reached the isolated node',
  )
  const { deadline, lastUntil } = await d.deadline(A)
  assert.ok(deadline && lastUntil, 'the ledger has a deadline')
  assert.is(deadline! - lastUntil!, 500 + LEASE.marginMs + 100, 'deadline = last renewal + skew + margin + poll')
  assert.ok(deadline! > Date.now() + 500, `deadline only ${deadline! - Date.now()} ms ahead: the test cannot see 'on'`)

  const seen: { t0: number; t1: number; s: string }[] = []
  // Its own connections: the renewer's to node-a is stuck in a write that cannot arrive.
  const { d: d1, pool: pool1 } = driver()
  const stopped = (async () => {
    const t0 = Date.now()
    const res = await d1.stop(A)
    return { t0, t1: Date.now(), res }
  })().finally(() => pool1.close())
  const { d: d2, pool: pool2 } = driver()
  try {
    while (Date.now() < deadline! + 800) {
      const t0 = Date.now()
      const s = await d2.status(A)
      seen.push({ t0, t1: Date.now(), s })
      await sleep(50)
    }
  } finally {
    pool2.close()
  }
  const st = await stopped
  pool.close()
  try {
    judge(seen, st, deadline!)
    // It really did step down, by itself, long before the deadline.
    assert.equal(await serving('node-a'), { vip: false, db: false })
  } finally {
    // Restored even when a judgement failed, so the next test starts from a serving node-a.
    await restoreA()
  }
  assert.equal(await serving('node-a'), { vip: true, db: true })
})

/** node-a linked, disarmed and serving again, as lab up left it. */
async function restoreA(): Promise<void> {
  await labFault(lab.inv, 'heal', 'node-a')
  await disarmA()
  await lab.exec('node-a', ['sh', '-c', `ip addr replace ${vip}/24 dev eth0 && /var/lib/lab/bin/svc start db`])
}

/** Disarms node-a's lease, asking again while a loaded machine is slow to answer after the heal. */
async function disarmA(): Promise<void> {
  for (let i = 0; ; i++) {
    const { d, pool } = driver()
    try {
      await d.disarm(A)
      return
    } catch (e) {
      if (!(e instanceof RemoteError) || i === 3) throw e
    } finally {
      pool.close()
    }
  }
}

function judge(
  seen: { t0: number; t1: number; s: string }[],
  st: { t0: number; t1: number; res: { changed: boolean; detail: string } },
  deadline: number,
): void {
  const on = seen.filter((x) => x.s === 'on')
  const off = seen.filter((x) => x.s === 'off')
  assert.ok(on.length > 0 && off.length > 0, JSON.stringify(seen))
  assert.equal(
    seen.filter((x) => x.s === 'unknown'),
    [],
  )
  for (const x of on) assert.ok(x.t0 <= deadline, `'on' ${x.t0 - deadline} ms after the deadline`)
  for (const x of off) assert.ok(x.t1 > deadline, `'off' ${deadline - x.t1} ms before the deadline`)
  assert.ok(st.t1 > deadline, 'stop() returned before the deadline')
  assert.ok(st.t1 - deadline < 500, `stop() returned ${st.t1 - deadline} ms after the deadline`)
  assert.is(st.res.changed, true)
  assert.match(st.res.detail, /^node-a stepped down by lease \(expired \d+ ms ago, waited \d+ ms\)$/)
  console.log(`  stop() waited ${st.t1 - st.t0} ms, returned ${st.t1 - deadline} ms after the deadline; first 'off' ${off[0].t1 - deadline} ms after it`)
}

test('a renewal confirmed after its lease ran out is an error, not a renewal', async () => {
  const pool = new SshPool(lab.inv)
  // A lease shorter than one round trip: every write arrives already expired, as on a starved link.
  const short = { ...pair, fencing: { driver: 'lease' as const, lease: { ...LEASE, leaseMs: 1, renewMs: 0 } } }
  const d = fenceDriver({ inv: lab.inv, pair: short, pool }) as LeaseFenceDriver
  try {
    const e = await d.renew(A, 0).then(
      () => undefined,
      (x) => x,
    )
    assert.instance(e, RemoteError)
    assert.match(e.message, /^node-a \([0-9.]+\): lease renewed too late: it had run out \d+ ms before the write was confirmed \(lease 1 ms\)$/, e.message)
    assert.is(e.node, 'node-a')
  } finally {
    pool.close()
    await restoreA()
  }
  assert.equal(await serving('node-a'), { vip: true, db: true })
})

test('failover.ts --yes with node-a isolated succeeds; the VIP is never on both nodes; node-a released it itself', async () => {
  const { d, pool } = driver()
  // On a clock, as a watcher renews: the ledger keeps moving until the failover's lock stops it.
  const r = startRenewer(d, A, 0, { overlap: true })
  // The invariant is judged by the sampler that reads both namespaces' kernels at one instant on
  // its own thread; the samples below (one process per node, started together but run whenever the
  // loaded machine gets to them) only show the move and its timing.
  const invariant = startInvariant(lab)
  await invariant.ready
  const samples: { t: number; a: boolean; b: boolean }[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const [a, b] = await Promise.all([serving('node-a'), serving('node-b')])
      samples.push({ t: Date.now(), a: a.vip, b: b.vip })
      await sleep(20)
    }
  })()
  let fo
  try {
    await sleep(600)
    // The move is only seen if node-a was seen serving first; a loaded machine samples slowly.
    for (const end = Date.now() + 5000; !samples.some((s) => s.a) && Date.now() < end;) await sleep(20)
    await labFault(lab.inv, 'isolate', 'node-a')
    fo = await playbook('failover', ['--inventory', lab.file, '--yes', '--json'], { timeoutMs: 50_000 })
  } finally {
    await r.stop()
    sampling = false
    await sampler
    pool.close()
  }
  const report = await invariant.stop()
  assert.is(fo.code, 0, fo.stdout + fo.stderr)
  const res = json(fo)
  const fence = res.steps.find((s: any) => s.name === 'fence')
  assert.match(fence.detail, /node-a stepped down by lease \(expired \d+ ms ago/, fence.detail)
  assert.is(res.active, 'node-b')
  assert.ok(r.refused > 0, 'no renewal was refused while the failover held the lock')
  const runs = samples.map((s) => `${s.a ? 'A' : '-'}${s.b ? 'B' : '-'}`).filter((x, i, all) => x !== all[i - 1])
  assert.equal(
    report.violations,
    [],
    `the VIP was on both nodes (sampled every ${report.maxGapMs} ms at worst): ${JSON.stringify(report.violations)}\n${fo.stdout}`,
  )
  assert.ok(samples.some((s) => s.a && !s.b) && samples.some((s) => !s.a && s.b), `saw the move: ${samples.length} samples: ${runs.join(' ')}\n${fo.stdout}`)
  const aGone = samples.find((s) => !s.a)!.t
  const bHas = samples.find((s) => s.b)!.t
  console.log(
    `  failover ${res.totalMs} ms (fence ${fence.ms} ms); VIP off node-a at +${aGone - samples[0].t} ms, on node-b at +${bHas - samples[0].t} ms (gap ${bHas - aGone} ms)`,
  )

  await labFault(lab.inv, 'heal', 'node-a')
  // Healed, node-a holds nothing: it gave both up itself (nobody could reach it to do it).
  assert.equal(await serving('node-a'), { vip: false, db: false })
  assert.equal(await lab.holders(vip), ['node-b'])
  assert.equal(await lab.runningOn('db'), ['node-b'])
  assert.match((await lab.exec('node-a', ['cat', `${DIR}/guard.log`])).stdout, /stepped-down: pair=demo node=node-a .* released=\S+ stopped=db/)
})

test.run()
