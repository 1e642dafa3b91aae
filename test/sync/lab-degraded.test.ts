// Degraded mode on real nodes (N3): the target's cable is pulled in the middle of a transfer,
// the other target still syncs, the run exits 4 and the active node holds the mark; the link
// comes back and the next sync delivers everything, nothing lost. Plus a file that changes
// while it is being sent, and the direction guard.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RefusedError, RemoteError } from '../../lib/errors.ts'
import { labFault } from '../../lib/lab/index.ts'
import { runFailover } from '../../lib/failover/run.ts'
import { SshPool } from '../../lib/ssh.ts'
import { pairStatus } from '../../lib/status.ts'
import { removeNodeState, writeNodeState } from '../../lib/state.ts'
import { runSync, type SyncOptions } from '../../lib/sync/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { fingerprint, loud, on, readOn, script } from './_lab.ts'

let lab: TestLab
const SKIP = ['local', '.rhosts']
const MB = 1024 * 1024
const BIG = 3 * MB

async function sync(o: SyncOptions = {}) {
  const pool = new SshPool(lab.inv)
  try {
    return await runSync(lab.inv, lab.inv.data.pairs[0], pool, { ioTimeoutSec: 3, ...o })
  } finally {
    pool.close()
  }
}
const address = (n: string) => lab.inv.data.pairs[0].nodes.find((x) => x.name === n)!.address
/** Slows node-a's traffic to one node only (8 Mbit/s), so a transfer lasts long enough to be interrupted. */
const slow = (to: string) =>
  script(
    lab,
    'node-a',
    `set -e
  tc qdisc add dev eth0 root handle 1: htb default 10 r2q 100000
  tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit
  tc class add dev eth0 parent 1: classid 1:20 htb rate 8mbit ceil 8mbit
  tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst "$1/32" flowid 1:20`,
    address(to),
  )
const unslow = () => lab.exec('node-a', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
const size = async (node: string, file: string) => {
  const r = await lab.exec(node, ['stat', '-c', '%s', file])
  return r.code === 0 ? Number(r.stdout) : -1
}
async function until(what: string, fn: () => Promise<boolean>, ms = 15000) {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
/** rsync writes an incoming file under a hidden temporary name (.big.bin.XXXXXX) beside the real one. */
const incoming = async (node: string) => {
  const r = await lab.exec(node, ['sh', '-c', 'for f in /srv/app/.big.bin.*; do [ -f "$f" ] && stat -c %s "$f" && exit 0; done; echo -1'])
  return Number(r.stdout.trim().split('\n')[0])
}
/** What an interrupted transfer keeps for the next run to resume from. */
const held = (node: string) => size(node, '/srv/app/.~tmp~/big.bin')

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        j.pairs[0].nodes.push({ name: 'node-c', address: '198.51.100.13', interface: 'eth0' })
      },
    })
    await script(lab, 'node-a', `head -c ${BIG} /dev/urandom > /srv/app/big.bin; echo one > /srv/config/extra.conf`)
  }),
)
test.after(async () => {
  await unslow().catch(() => {})
  await lab?.down()
})

test('the target is cut off mid-transfer: the other target syncs, exit 4, the mark names what is held', async () => {
  await slow('node-b')
  const run = sync()
  // Never a half-written file under its real name: it grows in rsync's holding directory.
  await until('the transfer to node-b to start', async () => (await incoming('node-b')) > 256 * 1024)
  assert.is(await size('node-b', '/srv/app/big.bin'), -1)
  await labFault(lab.inv, 'isolate', 'node-b')
  const rep = await run
  assert.is(rep.exitCode, 4, JSON.stringify(rep.results, null, 1))
  const by = Object.fromEntries(rep.results.map((r) => [`${r.item}>${r.target}`, r]))
  assert.is(by['config>node-b'].outcome, 'ok', 'config has the higher priority: it went first, before the cut')
  assert.is(by['app>node-b'].outcome, 'failed')
  assert.ok(by['app>node-b'].link)
  assert.match(by['app>node-b'].reason!, /rsync exit (30|12|255)/)
  assert.is(by['app>node-c'].outcome, 'ok')
  assert.is(await fingerprint(lab, 'node-c', '/srv/app', SKIP), await fingerprint(lab, 'node-a', '/srv/app', SKIP))
  assert.equal(rep.degraded?.pending, { 'node-b': ['app'] })
  const mark = JSON.parse(await readOn(lab, 'node-a', '/var/lib/hapair/demo/degraded.json'))
  assert.equal(mark, rep.degraded)
  assert.is(await size('node-b', '/srv/app/big.bin'), -1, 'still no partial file under the real name')
})

test('while cut off: new changes are held too, status shows the mark (playbook: exit 4, JSON in priority order)', async () => {
  await script(lab, 'node-a', 'echo held > /srv/app/held-change.txt; echo two > /srv/config/extra.conf')
  const r = await playbook('sync', ['--inventory', lab.file, '--json', '--timeout', '3'])
  assert.is(r.code, 4, r.stderr)
  const rep = json(r)
  assert.equal(
    rep.results.map((x: any) => `${x.item}>${x.target}:${x.outcome}`),
    ['config>node-b:pending', 'config>node-c:ok', 'app>node-b:pending', 'app>node-c:ok'],
  )
  assert.equal(rep.degraded.pending, { 'node-b': ['app', 'config'] })
  const pool = new SshPool(lab.inv)
  try {
    const st = await pairStatus(lab.inv, lab.inv.data.pairs[0], pool)
    assert.ok(st.degraded)
    assert.ok(
      st.degradedReasons.some((x) => x.startsWith(`sync pending since ${rep.degraded.since}`)),
      st.degradedReasons.join('\n'),
    )
  } finally {
    pool.close()
  }
})

test('the link is back: the next sync delivers everything held, resumes the cut file, and clears the mark', async () => {
  await labFault(lab.inv, 'heal', 'node-b')
  await unslow()
  // The receiver on node-b learns its connection is dead once packets flow again; it then keeps
  // what had arrived in rsync's partial directory, for the next run to resume from.
  await until('the cut transfer to be kept for resuming', async () => (await held('node-b')) > 0, 20000)
  const kept = await held('node-b')
  const rep = await sync()
  assert.is(rep.exitCode, 0, JSON.stringify(rep.results, null, 1))
  assert.is(rep.degraded, null)
  const app = rep.results.find((r) => r.item === 'app' && r.target === 'node-b')!
  assert.ok(app.bytes < BIG - kept / 2, `resumed from the ${kept} bytes already there: sent ${app.bytes} of ${BIG}`)
  for (const d of ['/srv/app', '/srv/config']) assert.is(await fingerprint(lab, 'node-b', d, SKIP), await fingerprint(lab, 'node-a', d, SKIP), d)
  assert.is(await readOn(lab, 'node-b', '/srv/app/held-change.txt'), 'held\n')
  assert.is((await lab.exec('node-a', ['test', '-e', '/var/lib/hapair/demo/degraded.json'])).code, 1)
  const times = JSON.parse(await readOn(lab, 'node-a', '/var/lib/hapair/demo/sync.json'))
  assert.ok(Date.parse(times.items.app['node-b']) >= Date.parse(app.startedAt))
})

test('a file rewritten while it is being sent: never visible half-written, and the next sync makes it exact', async () => {
  const before = await size('node-b', '/srv/app/big.bin')
  await slow('node-b')
  // Change it once so the run has something to send, then rewrite it in place while it travels.
  await on(lab, 'node-a', ['sh', '-c', `head -c ${BIG + MB} /dev/urandom > /srv/app/big.bin`])
  const seen = new Set<number>()
  const run = sync({ to: 'node-b', items: ['app'] })
  await until('the transfer to start', async () => (await incoming('node-b')) > 256 * 1024)
  await on(lab, 'node-a', ['sh', '-c', `head -c ${MB} /dev/urandom | dd of=/srv/app/big.bin bs=1M seek=2 conv=notrunc status=none`])
  let done = false
  const rep = run.finally(() => {
    done = true
  })
  while (!done) {
    seen.add(await size('node-b', '/srv/app/big.bin'))
    await new Promise((r) => setTimeout(r, 20))
  }
  const first = await rep
  await unslow()
  assert.is(first.exitCode, 0, JSON.stringify(first.results))
  for (const s of seen) assert.ok(s === before || s === BIG + MB, `saw ${s} bytes under the real name (old ${before}, new ${BIG + MB})`)
  const second = await sync({ to: 'node-b', items: ['app'] })
  assert.is(second.results[0].sent, 1, 'the file changed after rsync listed it, so it is sent again')
  assert.is(await fingerprint(lab, 'node-b', '/srv/app', SKIP), await fingerprint(lab, 'node-a', '/srv/app', SKIP))
})

test('direction guard: data only leaves the active node', async () => {
  const r = await playbook('sync', ['--inventory', lab.file, '--from', 'node-b'])
  assert.is(r.code, 3)
  assert.match(r.stderr, 'refusing to sync from node-b: the active node is node-a')
  for (const o of [{ to: 'node-a' }, { bootstrap: 'node-a' }]) {
    try {
      await sync(o)
      assert.unreachable(JSON.stringify(o))
    } catch (e) {
      assert.instance(e, RefusedError, JSON.stringify(o))
      assert.is((e as RefusedError).exitCode, 3)
    }
  }
  // After a real failover to node-b, node-b is the source and node-a a target.
  const pair = lab.inv.data.pairs[0]
  const pool = new SshPool(lab.inv)
  try {
    const fo = await runFailover(lab.inv, pool, pair, { operation: 'failover', to: 'node-b', force: true })
    assert.ok(fo.ok, fo.error)
    await script(lab, 'node-b', 'echo "written on node-b after failover" > /srv/app/from-b.txt')
    const rep = await sync({ from: 'node-b', items: ['app'] })
    assert.is(rep.source, 'node-b')
    assert.equal(rep.targets, ['node-a', 'node-c'])
    assert.is(rep.exitCode, 0, JSON.stringify(rep.results))
    assert.is(await readOn(lab, 'node-a', '/srv/app/from-b.txt'), 'written on node-b after failover\n')
    try {
      await sync({ from: 'node-a' })
      assert.unreachable()
    } catch (e) {
      assert.instance(e, RefusedError)
      assert.match((e as Error).message, `epoch ${fo.epoch}`)
    }
    // A record naming a node the inventory does not know is never believed: no guessing.
    await writeNodeState(pool.session(pair, 'node-b'), pair, 'active', {
      epoch: fo.epoch + 1,
      active: 'node-z',
      since: new Date().toISOString(),
      by: 'test',
    } as any)
    try {
      await sync()
      assert.unreachable()
    } catch (e) {
      assert.instance(e, RefusedError)
      assert.match((e as Error).message, /active\.json is unusable: active must name a node of pair demo/)
    }
  } finally {
    const back = await runFailover(lab.inv, pool, pair, { operation: 'failover', to: 'node-a', force: true, resolve: true, breakLock: true })
    assert.ok(back.ok, back.error)
    pool.close()
  }
})

test('a failover holding the pair lock stops the sync (exit 3)', async () => {
  const owner = {
    owner: 'ops@elsewhere pid 1',
    host: 'elsewhere',
    pid: 1,
    operation: 'failover',
    at: new Date().toISOString(),
    expires: new Date(Date.now() + 60000).toISOString(),
  }
  await script(lab, 'node-b', 'mkdir -p /var/lib/hapair/demo/lock && printf "%s" "$1" > /var/lib/hapair/demo/lock/owner', JSON.stringify(owner))
  try {
    try {
      await sync()
      assert.unreachable()
    } catch (e) {
      assert.instance(e, RefusedError)
      assert.match((e as Error).message, 'locked by ops@elsewhere pid 1 (failover')
    }
  } finally {
    await script(lab, 'node-b', 'rm -rf /var/lib/hapair/demo/lock')
  }
})

test('the active node unreachable: nothing can be synced, exit 1, no mark written anywhere', async () => {
  await labFault(lab.inv, 'isolate', 'node-a')
  try {
    try {
      await sync()
      assert.unreachable()
    } catch (e) {
      assert.instance(e, RemoteError)
      assert.is((e as RemoteError).exitCode, 1)
      assert.match((e as Error).message, 'the active node cannot be reached')
    }
  } finally {
    await labFault(lab.inv, 'heal', 'node-a')
  }
  for (const n of ['node-b', 'node-c']) assert.is((await lab.exec(n, ['test', '-e', '/var/lib/hapair/demo/degraded.json'])).code, 1)
})

test.run()
