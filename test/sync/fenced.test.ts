// Sync is fenced like a service: it refuses while a failover's lock (live or left with a journal)
// is on the pair, stops before its next item when a lock appears, and a failover's stopSyncs
// kills its running rsync so nothing more ships from the old active node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { stateDir } from '../../lib/inventory/load.ts'
import { acquireLock, lockDir } from '../../lib/lock.ts'
import { RefusedError } from '../../lib/errors.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync, stopSyncs, SyncStopped, type SyncOptions } from '../../lib/sync/index.ts'
import { leasesDir } from '../../lib/sync/stop.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { playbook } from '../helpers/playbook.ts'
import { loud, on, script } from './_lab.ts'

let lab: TestLab
const pair = () => lab.inv.data.pairs[0]
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function sync(o: SyncOptions = {}) {
  const pool = new SshPool(lab.inv)
  try {
    return await runSync(lab.inv, pair(), pool, o)
  } finally {
    pool.close()
  }
}
async function refusedWith(p: Promise<unknown>, want: RegExp, cls: Function = RefusedError) {
  try {
    await p
    assert.unreachable('should refuse')
  } catch (e) {
    assert.instance(e, cls, String(e))
    assert.is((e as RefusedError).exitCode, 3)
    assert.match((e as Error).message, want)
  }
}
const owner = (expires: number) =>
  JSON.stringify({
    owner: 'ops@ctl pid 1',
    host: 'elsewhere',
    pid: 1,
    operation: 'failover',
    at: '2030-01-01T11:59:00Z',
    expires: new Date(expires).toISOString(),
  })
async function plant(nodes: string[], ownerText: string, journal?: string) {
  for (const n of nodes)
    await on(lab, n, [
      'sh',
      '-c',
      'mkdir -p "$1" && printf %s "$2" > "$1/owner" && if [ -n "$3" ]; then printf %s "$3" > "$1/journal"; fi',
      'sh',
      lockDir(pair()),
      ownerText,
      journal ?? '',
    ])
}
const unlock = async () => {
  for (const n of ['node-a', 'node-b']) await on(lab, n, ['rm', '-rf', lockDir(pair())])
}
const shape = (node: string) => on(lab, node, ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms'])
const unshape = (node: string) => lab.exec(node, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
const exists = async (node: string, p: string) => (await lab.exec(node, ['test', '-e', p])).code === 0

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        j.pairs[0].sync.items.push({ name: 'low', path: '/srv/low', priority: 1, transport: 'rsync', policy: 'always' })
      },
    })
    await script(
      lab,
      'node-a',
      'mkdir -p /srv/app /srv/config /srv/low; echo old > /srv/low/x; head -c 2500000 /dev/urandom > /srv/app/big.bin; echo v1 > /srv/config/fenced.conf',
    )
    const first = await sync()
    assert.is(first.exitCode, 0, JSON.stringify(first.results))
  }),
)
test.after(async () => {
  if (lab) {
    await unshape('node-a')
    await lab.down()
  }
})

test('refuses while an interrupted failover left its lock and journal, naming the command that finishes it', async () => {
  const j = JSON.stringify({ operation: 'failover', from: 'node-a', to: 'node-b', epoch: 2, steps: ['lock', 'fence'] })
  await plant(['node-a', 'node-b'], owner(Date.now() - 3600_000), j)
  await refusedWith(
    sync(),
    /unfinished failover from node-a to node-b \(epoch 2; lock on node-[ab] left by ops@ctl pid 1 .*finish it first with `npx zx playbooks\/failover.ts --pair demo --yes`/,
  )
  await unlock()
})

test('refuses under a live lock, a stale lock without a journal, and a bad journal', async () => {
  await plant(['node-b'], owner(Date.now() + 60_000))
  await refusedWith(sync(), /pair demo is locked by ops@ctl pid 1 .* on node-b: a failover or failback is under way/)
  await unlock()
  await plant(['node-a'], owner(Date.now() - 1000))
  await refusedWith(sync(), /still locked on node-a by .* died before it journalled a change: re-run `npx zx playbooks\/failover.ts --pair demo --yes`/)
  await unlock()
  await plant(['node-a'], owner(Date.now() - 1000), '{"operation":"failover","from":"node-a","to":"node-b","epoch":"9e99","steps":[]}')
  await refusedWith(sync(), /journal on node-a is unusable \(epoch "9e99" is not a positive integer\)/)
  await unlock()
  for (const n of ['node-a', 'node-b'])
    assert.equal(
      (await lab.exec(n, ['sh', '-c', 'ls -A "$1" 2>/dev/null; exit 0', 'sh', leasesDir(pair())])).stdout,
      '',
      `${n}: a refused sync leaves no lease`,
    )
})

test('a lock appearing on the source mid-run stops the sync before its next item; nothing is recorded', async () => {
  await script(lab, 'node-a', 'head -c 1500000 /dev/urandom > /srv/app/big.bin; echo new > /srv/low/after-lock')
  const syncBefore = (await lab.exec('node-a', ['cat', `${stateDir(pair())}/sync.json`])).stdout
  await shape('node-a')
  try {
    // app (priority 10) is slow now; low (priority 1) comes after it and must not go once the lock is there.
    const run = sync({ items: ['app', 'low'] })
    run.catch(() => {})
    await sleep(1500)
    await plant(['node-a'], owner(Date.now() + 60_000))
    await refusedWith(run, /stopped: a failover took the pair \(its lock appeared on node-a\); nothing was recorded/, SyncStopped)
  } finally {
    await unshape('node-a')
    await unlock()
  }
  assert.is((await lab.exec('node-a', ['cat', `${stateDir(pair())}/sync.json`])).stdout, syncBefore, 'no sync record written')
  assert.not.ok(await exists('node-b', '/srv/low/after-lock'), 'the item after the lock was not sent')
})

test('stopSyncs kills a running slow rsync; a file written on the target afterwards survives', async () => {
  await script(lab, 'node-a', 'head -c 3000000 /dev/urandom > /srv/app/big.bin')
  const pool = new SshPool(lab.inv)
  // Connected before the link is throttled: a handshake behind a full 400 ms queue can outlast the
  // connect timeout on a loaded machine, and the lock would then skip node-a as unreachable.
  await Promise.all(['node-a', 'node-b'].map((n) => pool.session(pair(), n).ping()))
  await shape('node-a')
  let pid = ''
  let lock: Awaited<ReturnType<typeof acquireLock>> | undefined
  try {
    const run = sync({ items: ['app'] })
    run.catch(() => {})
    for (let i = 0; i < 100 && !pid; i++) {
      await sleep(100)
      pid = (
        await lab.exec('node-a', ['sh', '-c', 'for f in "$1"/*/pid.*; do [ -f "$f" ] && { cat "$f"; break; }; done; exit 0', 'sh', leasesDir(pair())])
      ).stdout.trim()
    }
    assert.ok(pid, 'the running rsync recorded its pid in the lease')
    await sleep(500)
    // What a failover does: lock first, then stop the syncs.
    lock = await acquireLock(pool, pair(), 'failover')
    const t0 = Date.now()
    const detail = await stopSyncs(pool, pair(), lock.nodes)
    assert.match(detail, /stopped 1 sync on node-a/, `${detail} (locked: ${lock.nodes.join(', ')})`)
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`)
    await refusedWith(run, /stopped: a failover took the pair/, SyncStopped)
    assert.not.ok(await exists('node-a', `/proc/${pid}`), `rsync pid ${pid} is gone`)
    await on(lab, 'node-b', ['sh', '-c', 'echo written on the new active node > /srv/app/after-failover.txt'])
    await sleep(3000)
    assert.is((await lab.exec('node-b', ['cat', '/srv/app/after-failover.txt'])).stdout, 'written on the new active node\n')
    const size = (await lab.exec('node-b', ['stat', '-c', '%s', '/srv/app/big.bin'])).stdout.trim()
    assert.is.not(size, '3000000', 'the killed transfer did not complete the new big.bin')
    assert.is(await stopSyncs(pool, pair(), ['node-a', 'node-b']), 'no sync running')
  } finally {
    await lock?.release()
    await unshape('node-a')
    pool.close()
  }
})

test('a failover started while a slow sync runs stops it; a write on the new active node survives', async () => {
  await script(lab, 'node-a', 'head -c 3000000 /dev/urandom > /srv/app/big.bin')
  await shape('node-a')
  try {
    const run = playbook('sync', ['--inventory', lab.file, '--item', 'app', '--json'])
    for (let i = 0; i < 100; i++) {
      const pid = (
        await lab.exec('node-a', ['sh', '-c', 'for f in "$1"/*/pid.*; do [ -f "$f" ] && { cat "$f"; break; }; done; exit 0', 'sh', leasesDir(pair())])
      ).stdout.trim()
      if (pid) break
      await sleep(100)
    }
    await sleep(500)
    // node-b is behind (big.bin is still on its way): that is exactly what --force is for here.
    const fo = await playbook('failover', ['--inventory', lab.file, '--yes', '--json', '--to', 'node-b', '--force'])
    assert.is(fo.code, 0, fo.stdout + fo.stderr)
    assert.match(JSON.parse(fo.stdout).steps.find((x: any) => x.name === 'stop-syncs').detail, /stopped 1 sync on node-a/)
    await on(lab, 'node-b', ['sh', '-c', 'echo written on node-b after the failover > /srv/app/big.bin'])
    const done = await run
    assert.is(done.code, 3, done.stdout + done.stderr)
    await sleep(2000)
    assert.is((await lab.exec('node-b', ['cat', '/srv/app/big.bin'])).stdout, 'written on node-b after the failover\n', 'the old primary never overwrote it')
  } finally {
    await unshape('node-a')
  }
  const back = await playbook('failover', ['--inventory', lab.file, '--yes', '--to', 'node-a', '--force'])
  assert.is(back.code, 0, back.stdout + back.stderr)
})

test.run()
