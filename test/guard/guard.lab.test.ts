// The lease guard on a real lab pair (lab up installs it for a pair fenced by lease): it keeps the
// VIP and the singleton while the lease is renewed, gives them up by itself soon after it runs out,
// does nothing while disarmed; renewals are refused while the pair is locked; a dead guard shows in
// status and check(); the playbook installs it as a process and exits 2 on a bad inventory.
import { test } from 'uvu'
import { GUARD_NICE } from '../../lib/guard/install.ts'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { SshPool } from '../../lib/ssh.ts'
import { fenceDriver } from '../../lib/drivers/index.ts'
import type { LeaseFenceDriver } from '../../lib/drivers/fence-lease.ts'
import { RefusedError } from '../../lib/errors.ts'
import { acquireLock } from '../../lib/lock.ts'
import { holdsAddress } from '../../lib/drivers/ip-linux.ts'
import { readGuardStatus } from '../../lib/guard/status.ts'
import { sessionRunner } from '../../lib/guard/runner.ts'
import type { Node, Pair } from '../../lib/inventory/schema.ts'
import { labFault, labPlan } from '../../lib/lab/index.ts'
import { startLabGuard } from '../../lib/lab/guard.ts'
import { LEASE, leaseInventory, sleep, startRenewer } from './_lease.ts'

let lab: TestLab
let pool: SshPool
let pair: Pair
let d: LeaseFenceDriver
let A: Node
let vip: string
const DIR = '/var/lib/hapair/demo'

test.before(async () => {
  lab = await startTestLab({ mutate: leaseInventory() })
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
  d = fenceDriver({ inv: lab.inv, pair, pool }) as LeaseFenceDriver
  A = pair.nodes[0]
  vip = pair.floatingIps![0].address
})
test.after(async () => {
  pool?.close()
  await lab?.down()
})

const guard = (n: string) => readGuardStatus(sessionRunner(pool.session(pair, n)), pair, n)
/** The VIP on node-a and db running there, in one look into the node. */
async function serving(): Promise<{ vip: boolean; db: boolean }> {
  const r = await lab.exec('node-a', ['sh', '-c', 'ip -o addr show dev eth0; echo "db=$(/var/lib/lab/bin/svc status db >/dev/null 2>&1; echo $?)"'])
  return { vip: holdsAddress(r.stdout, vip), db: /db=0/.test(r.stdout) }
}
/** Back to node-a serving, by hand (the guard never brings anything back). */
async function restore() {
  await d.disarm(A)
  await lab.exec('node-a', ['sh', '-c', `ip addr replace ${vip}/24 dev eth0 && /var/lib/lab/bin/svc start db`])
  assert.equal(await serving(), { vip: true, db: true })
}

test('lab up started a disarmed guard on every node of the lease pair', async () => {
  for (const n of ['node-a', 'node-b']) {
    const g = await guard(n)
    assert.ok(g.installed && g.running, `${n}: ${JSON.stringify(g)}`)
    assert.is(g.armed, false)
    assert.is(g.state?.word, 'disarmed')
    // Ahead of the node's own work, so a busy CPU does not make its step-down late.
    assert.is((await lab.exec(n, ['ps', '-o', 'ni=', '-p', String(g.pid)])).stdout.trim(), String(GUARD_NICE))
  }
  assert.equal(await serving(), { vip: true, db: true })
})

test('a renewed lease keeps the VIP and db; not renewed, the guard gives both up before any taker may act', async () => {
  const delays: { vipAfterExpiry: number; afterExpiry: number; afterLastRenewal: number; guardLate: number; guardTook: number }[] = []
  for (let trial = 0; trial < 3; trial++) {
    const r = startRenewer(d, A)
    await sleep(trial === 0 ? 2500 : 800) // well past one lease: only renewals keep it
    assert.equal(await serving(), { vip: true, db: true }, 'stepped down while renewed')
    const g = await guard('node-a')
    assert.ok(g.armed && g.remainingMs! > 0 && g.state?.word === 'armed', JSON.stringify(g))
    await r.stop()
    assert.equal(r.failed, [])
    const last = r.ok.at(-1)!
    let gone = 0
    let vipGone = 0
    for (;;) {
      const s = await serving()
      if (!s.vip && !vipGone) vipGone = Date.now()
      if (!s.vip && !s.db) {
        gone = Date.now()
        break
      }
      if (Date.now() > last.until + 3000) assert.unreachable(`still serving 3 s after the lease ran out: ${JSON.stringify(s)}`)
      await sleep(10)
    }
    // The guard logs once it has checked that nothing is left, a moment after the last of it went.
    let line = ''
    for (const end = Date.now() + 15_000; Date.now() < end && !line.includes(`until=${last.until} `);) {
      line = (await lab.exec('node-a', ['tail', '-n', '1', `${DIR}/guard.log`])).stdout.trim()
      await sleep(10)
    }
    assert.match(
      line,
      new RegExp(`stepped-down: pair=demo node=node-a until=${last.until} epoch=0 late_ms=\\d+ took_ms=\\d+ released=${vip.replace(/\./g, '\\.')} stopped=db`),
      line,
    )
    // The sampler's own reads are late on a loaded machine; the guard logs after it has checked that
    // nothing is left, on the same clock, so whichever came first bounds when it was gone.
    gone = Math.min(gone, Date.parse(line.split(' ')[0]))
    delays.push({
      vipAfterExpiry: vipGone - last.until,
      afterExpiry: gone - last.until,
      afterLastRenewal: gone - last.at,
      guardLate: Number(/late_ms=(\d+)/.exec(line)![1]),
      guardTook: Number(/took_ms=(\d+)/.exec(line)![1]),
    })
    await restore()
    // What safety needs: gone before any taker may act (the driver's deadline past the lease).
    const takerMay = last.until + d.graceMs
    assert.ok(gone <= takerMay, `gone ${gone - last.at} ms after the last renewal, ${gone - takerMay} ms after a taker may act (lease ${LEASE.leaseMs} ms)`)
    assert.ok(gone >= last.until, 'gave up before the lease ran out')
  }
  console.log(`  step-down delays (ms): ${JSON.stringify(delays)}`)
})

test('a renewal while the pair is locked is refused, and changes neither the ledger nor the lease', async () => {
  const before = await lab.exec('node-b', ['cat', `${DIR}/lease-ledger`])
  const lock = await acquireLock(pool, pair, 'failover')
  try {
    await d.renew(A, 0)
    assert.unreachable('renewed under the pair lock')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /locked on node-b/)
  } finally {
    await lock.release()
  }
  assert.is((await lab.exec('node-b', ['cat', `${DIR}/lease-ledger`])).stdout, before.stdout)
  assert.is((await lab.exec('node-a', ['test', '-e', `${DIR}/lease`])).code, 1, 'a lease reached node-a')
  // Unlocked, the same call renews.
  const ok = await d.renew(A, 0)
  assert.is(ok.ledgers, 1)
  await d.disarm(A)
})

test('no lease file is disarmed: nothing happens', async () => {
  assert.is((await lab.exec('node-a', ['test', '-e', `${DIR}/lease`])).code, 1)
  await sleep(LEASE.leaseMs + 500)
  assert.equal(await serving(), { vip: true, db: true })
  assert.is((await guard('node-a')).state?.word, 'disarmed')
  assert.is(await d.expiresAt(A), undefined, 'a disarmed lease has no deadline')
})

test('a killed guard is reported by guard.ts status and check(); guard.ts install starts it again (exit 0)', async () => {
  const pid = (await guard('node-b')).pid!
  await lab.exec('node-b', ['kill', '-9', String(pid)])
  const st = await playbook('guard', ['status', '--inventory', lab.file, '--json'])
  assert.is(st.code, 1, st.stdout + st.stderr)
  const nodes = json(st).pairs[0].nodes
  assert.equal(
    nodes.map((n: any) => [n.node, n.ok]),
    [
      ['node-a', true],
      ['node-b', false],
    ],
  )
  assert.match((await playbook('guard', ['status', '--inventory', lab.file])).stdout, /node-b\s+NOT RUNNING \(installed\)/)
  const problems = await d.check()
  assert.equal(problems.length, 1, problems.join('\n'))
  assert.match(problems[0], /node-b: its lease guard is not running \(npx zx playbooks\/guard\.ts install --pair demo --node node-b\)/)

  const inst = await playbook('guard', ['install', '--inventory', lab.file])
  assert.is(inst.code, 0, inst.stdout + inst.stderr)
  assert.match(inst.stdout, /ok\s+node-b\s+guard running \(pid \d+, setsid\)/)
  const again = await playbook('guard', ['status', '--inventory', lab.file, '--json'])
  assert.is(again.code, 0, again.stdout + again.stderr)
  assert.equal(await d.check(), [])
  assert.is.not((await guard('node-b')).pid, pid)
})

test('a bad inventory exits 2 and touches nothing', async () => {
  const conf = async () =>
    Promise.all(['node-a', 'node-b'].map(async (n) => [(await guard(n)).pid, (await lab.exec(n, ['stat', '-c', '%Y.%Z %s', `${DIR}/guard.conf`])).stdout]))
  const before = await conf()
  const bad = lab.file.replace(/\.json$/, '.bad.json')
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  data.pairs[0].fencing.lease.leaseMs = 0
  writeFileSync(bad, JSON.stringify(data))
  const r = await playbook('guard', ['install', '--inventory', bad])
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /leaseMs/)
  const wrongNode = await playbook('guard', ['install', '--inventory', lab.file, '--node', 'node-z'])
  assert.is(wrongNode.code, 2, wrongNode.stdout + wrongNode.stderr)
  assert.equal(await conf(), before)
})

test('guard.ts uninstall disarms and removes the guard of one node; install brings it back', async () => {
  const un = await playbook('guard', ['uninstall', '--inventory', lab.file, '--node', 'node-b'])
  assert.is(un.code, 0, un.stdout + un.stderr)
  assert.match(un.stdout, /ok\s+node-b\s+lease disarmed \(1 ledger\), guard stopped and removed/)
  const g = await guard('node-b')
  assert.equal({ installed: g.installed, running: g.running }, { installed: false, running: false })
  assert.match((await lab.exec('node-a', ['cat', `${DIR}/lease-ledger`])).stdout, /^node-b \d+ \d+ disarmed$/m)
  assert.is((await guard('node-a')).running, true, 'uninstalling node-b touched node-a')
  const st = await playbook('guard', ['status', '--inventory', lab.file])
  assert.is(st.code, 1)
  assert.match(st.stdout, /node-b\s+NOT INSTALLED/)
  assert.is((await playbook('guard', ['install', '--inventory', lab.file, '--node', 'node-b'])).code, 0)
  assert.is((await guard('node-b')).running, true)
})

test('power-on: startLabGuard starts the guard lab up installed, and leaves a running one alone', async () => {
  const plan = labPlan(lab.inv)
  const n = plan.nodes.find((x) => x.name === 'node-b')!
  await labFault(lab.inv, 'kill', 'node-b')
  await labFault(lab.inv, 'start', 'node-b')
  assert.equal(await startLabGuard(plan, n), ['demo'])
  const g = await guard('node-b')
  assert.ok(g.running, JSON.stringify(g))
  assert.equal(await startLabGuard(plan, n), ['demo'])
  assert.is((await guard('node-b')).pid, g.pid, 'a running guard was restarted')
  assert.equal(await d.check(), [])
})

test.run()
