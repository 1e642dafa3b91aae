// The follower on real nodes: `sync.ts --follow` as a child process, inotifywait in node-a,
// rsync from node-a to node-b. Each change is made on node-a and looked for on node-b.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { labFault } from '../../lib/lab/index.ts'
import { runFailover } from '../../lib/failover/run.ts'
import { SshPool } from '../../lib/ssh.ts'
import { formatStatus, pairStatus } from '../../lib/status.ts'
import { readInflight } from '../../lib/sync/follow/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { startFollowChild, type FollowChild } from './_follow.ts'
import { loud, on, script } from './_lab.ts'

let lab: TestLab
let f: FollowChild | undefined
let inflightBefore = -1
const ARGS = ['--item', 'app,docs', '--timeout', '3', '--batch-ms', '100']

async function until(what: string, fn: () => Promise<boolean>, ms = 15000, every = 50) {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, every))
  }
}
const exists = async (node: string, p: string) => (await lab.exec(node, ['test', '-e', p])).code === 0
const cat = async (node: string, p: string) => {
  const r = await lab.exec(node, ['cat', p])
  return r.code === 0 ? r.stdout : undefined
}
const count = async (node: string, dir: string) =>
  Number((await lab.exec(node, ['sh', '-c', 'find "$1" -type f 2>/dev/null | wc -l', 'sh', dir])).stdout.trim())
/** inotifywait processes of this node (the lab shares the machine's pid namespace, not its network one). */
const watchersOn = async (node: string) =>
  (
    await lab.exec(node, [
      'sh',
      '-c',
      'for p in $(pgrep -x inotifywait); do [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/self/ns/net)" ] && echo $p; done; true',
    ])
  ).stdout
    .trim()
    .split('\n')
    .filter(Boolean)
const address = (n: string) => lab.inv.data.pairs[0].nodes.find((x) => x.name === n)!.address

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        // A second rsync item that is not mirrored: deletions stay on the targets.
        j.pairs[0].sync.items.push({ name: 'docs', path: '/srv/docs', priority: 5, transport: 'rsync', policy: 'always', mirror: false })
      },
    })
    for (const n of ['node-a', 'node-b']) await on(lab, n, ['mkdir', '-p', '/srv/docs', '/srv/app/local'])
    // What only node-b has, and must keep: protected paths.
    await script(lab, 'node-b', 'echo b-local > /srv/app/local/mine; echo b-rhosts > /srv/app/.rhosts')
    f = startFollowChild(lab.file, ARGS)
    await f.waitFor((e) => e.event === 'following', 60_000)
  }),
)
test.after(async () => {
  await f?.kill()
  await lab?.down()
})

// How soon is the benchmark's question (bench/follow, RPO percentiles against lsyncd); a timed bound
// here would only measure how loaded the CI machine is. This test asserts what must always hold.
test('a write on the active appears on the standby whole, never half-written', async () => {
  const size = 6 * 1024 * 1024
  const seen: number[] = []
  let done = false
  const watch = (async () => {
    while (!done) {
      const r = await lab.exec('node-b', ['sh', '-c', 'stat -c %s /srv/app/whole.bin 2>/dev/null || echo -1'])
      seen.push(Number(r.stdout.trim()))
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  const t0 = Date.now()
  // Written in place, slowly enough to be caught half-way if anything shipped it open.
  await script(lab, 'node-a', 'for i in 1 2 3 4 5 6; do head -c 1048576 /dev/urandom; sleep 0.1; done > /srv/app/whole.bin')
  const written = Date.now()
  await until(
    'whole.bin on node-b',
    async () => (await lab.exec('node-b', ['sh', '-c', `[ "$(stat -c %s /srv/app/whole.bin 2>/dev/null)" = ${size} ]`])).code === 0,
    10_000,
    20,
  )
  const arrived = Date.now()
  done = true
  await watch
  const [a, b] = await Promise.all(['node-a', 'node-b'].map((n) => lab.exec(n, ['sha256sum', '/srv/app/whole.bin'])))
  assert.is(b.stdout, a.stdout)
  assert.ok(
    seen.every((s) => s === -1 || s === size),
    `a partial size was seen on node-b: ${[...new Set(seen)].join(', ')}`,
  )
  console.log(`  arrived ${arrived - written} ms after the write ended (${written - t0} ms writing)`)
})

test('a tree of 10,000 files created in one burst all arrives', async () => {
  const t0 = Date.now()
  await script(
    lab,
    'node-a',
    'set -e; mkdir -p /srv/app/burst; cd /srv/app/burst; for d in $(seq 0 99); do mkdir d$d; for i in $(seq 0 99); do echo "$d $i" > d$d/f$i; done; done',
  )
  const made = Date.now()
  await until('10,000 files on node-b', async () => (await count('node-b', '/srv/app/burst')) === 10_000, 40_000, 250)
  const sums = await Promise.all(
    ['node-a', 'node-b'].map((n) => script(lab, n, 'cd /srv/app/burst && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum')),
  )
  assert.is(sums[1], sums[0])
  console.log(`    burst: made in ${made - t0} ms, all on node-b ${Date.now() - made} ms later`)
})

test('a rename of a file and of a directory, then a write inside the moved directory', async () => {
  await script(lab, 'node-a', 'mkdir -p /srv/app/r/dir; echo one > /srv/app/r/file; echo two > /srv/app/r/dir/inner')
  await until('r/ on node-b', () => exists('node-b', '/srv/app/r/dir/inner'))
  await script(lab, 'node-a', 'mv /srv/app/r/file /srv/app/r/renamed; mv /srv/app/r/dir /srv/app/r/moved; echo three > /srv/app/r/moved/new')
  await until(
    'the renames on node-b',
    async () =>
      (await cat('node-b', '/srv/app/r/moved/new')) === 'three\n' &&
      !(await exists('node-b', '/srv/app/r/file')) &&
      !(await exists('node-b', '/srv/app/r/dir')),
  )
  assert.is(await cat('node-b', '/srv/app/r/renamed'), 'one\n')
  assert.is(await cat('node-b', '/srv/app/r/moved/inner'), 'two\n')
})

test('a delete: gone from the standby for a mirror item, kept for a non-mirror one', async () => {
  await script(lab, 'node-a', 'echo m > /srv/app/del-me; echo d > /srv/docs/del-me; mkdir -p /srv/app/deldir/sub; echo x > /srv/app/deldir/sub/x')
  await until(
    'both on node-b',
    async () =>
      (await exists('node-b', '/srv/app/del-me')) && (await exists('node-b', '/srv/docs/del-me')) && (await exists('node-b', '/srv/app/deldir/sub/x')),
  )
  await script(lab, 'node-a', 'rm -r /srv/app/del-me /srv/docs/del-me /srv/app/deldir; echo marker > /srv/docs/after')
  await until('the mirror deletions', async () => !(await exists('node-b', '/srv/app/del-me')) && !(await exists('node-b', '/srv/app/deldir')))
  await until('a later docs write', () => exists('node-b', '/srv/docs/after'))
  assert.ok(await exists('node-b', '/srv/docs/del-me'), 'docs is not a mirror item: its deletion must not reach node-b')
})

test('protected paths are never shipped, overwritten or deleted', async () => {
  await script(
    lab,
    'node-a',
    'echo a-local > /srv/app/local/mine; echo a-new > /srv/app/local/new; echo a-rhosts > /srv/app/.rhosts; echo marker > /srv/app/after-protected',
  )
  await until('the marker written after them', () => exists('node-b', '/srv/app/after-protected'))
  await new Promise((r) => setTimeout(r, 500))
  assert.is(await cat('node-b', '/srv/app/local/mine'), 'b-local\n')
  assert.is(await cat('node-b', '/srv/app/.rhosts'), 'b-rhosts\n')
  assert.not.ok(await exists('node-b', '/srv/app/local/new'))
  await script(lab, 'node-a', 'rm -rf /srv/app/local /srv/app/.rhosts; echo marker2 > /srv/app/after-protected2')
  await until('the second marker', () => exists('node-b', '/srv/app/after-protected2'))
  await new Promise((r) => setTimeout(r, 300))
  assert.is(await cat('node-b', '/srv/app/local/mine'), 'b-local\n')
  assert.is(await cat('node-b', '/srv/app/.rhosts'), 'b-rhosts\n')
})

test('the standby cut off for 30 s while writes go on: degraded, then everything arrives and the mark clears', async () => {
  const from = f!.events.length
  await labFault(lab.inv, 'isolate', 'node-b')
  const cut = Date.now()
  const writer = script(lab, 'node-a', 'mkdir -p /srv/app/cut; for i in $(seq 1 150); do echo "$i" > /srv/app/cut/f$i; sleep 0.2; done')
  const deg = await f!.waitFor((e) => e.event === 'degraded' && e.target === 'node-b', 20_000, from)
  assert.ok(deg.reason)
  // The event comes after the mark is written: whoever acts on it finds the mark.
  const early = JSON.parse((await cat('node-a', '/var/lib/hapair/demo/degraded.json')) ?? '{}')
  assert.ok(early.pending?.['node-b']?.includes('app'), JSON.stringify(early))
  await writer
  await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - cut))))
  const mark = JSON.parse((await cat('node-a', '/var/lib/hapair/demo/degraded.json')) ?? '{}')
  assert.ok(mark.pending?.['node-b']?.includes('app'), JSON.stringify(mark))
  await labFault(lab.inv, 'heal', 'node-b')
  const up = await f!.waitFor((e) => e.event === 'caught-up' && e.target === 'node-b', 30_000, from)
  assert.ok(up.downMs > 0)
  assert.is(await count('node-b', '/srv/app/cut'), 150)
  await until(
    'the degraded mark to clear for node-b',
    async () => {
      const m = await cat('node-a', '/var/lib/hapair/demo/degraded.json')
      return m === undefined || !JSON.parse(m).pending?.['node-b']?.includes('app')
    },
    10_000,
    200,
  )
})

test('the follower SIGKILLed and restarted loses nothing', async () => {
  await f!.kill()
  await script(lab, 'node-a', 'mkdir -p /srv/app/while-down; for i in $(seq 1 50); do echo "$i" > /srv/app/while-down/f$i; done; rm /srv/app/r/renamed')
  f = startFollowChild(lab.file, ARGS)
  await f.waitFor((e) => e.event === 'following', 60_000)
  await script(lab, 'node-a', 'echo after > /srv/app/while-down/after-restart')
  await until('every file written while it was down', async () => (await count('node-b', '/srv/app/while-down')) === 51, 15_000, 100)
  assert.not.ok(await exists('node-b', '/srv/app/r/renamed'))
  // Nothing of the killed follower keeps watching on node-a: its SSH connection went with it.
  await until('one watcher per item on node-a', async () => (await watchersOn('node-a')).length === 2, 10_000, 200)
})

test('the active isolated: the in-flight list on the standby names exactly the files that did not arrive', async () => {
  // node-a can no longer send to node-b, while the controller still hears node-a's events.
  await script(
    lab,
    'node-a',
    'nft add table inet hpcut; nft add chain inet hpcut out "{ type filter hook output priority 0; }"; nft add rule inet hpcut out ip daddr "$1" tcp dport 22 drop',
    address('node-b'),
  )
  const from = f!.events.length
  await script(
    lab,
    'node-a',
    'mkdir -p /srv/app/lost; for i in $(seq 1 25); do echo "$i" > /srv/app/lost/f$i; sleep 0.05; done; echo changed >> /srv/app/whole.bin; rm -r /srv/app/cut',
  )
  await f!.waitFor((e) => e.event === 'degraded' && e.target === 'node-b', 20_000, from)
  // Let the last events reach the controller, then pull node-a's cable.
  await new Promise((r) => setTimeout(r, 500))
  await labFault(lab.inv, 'isolate', 'node-a')
  await f!.waitFor((e) => e.event === 'source-lost', 20_000, from)
  const pool = new SshPool(lab.inv)
  try {
    const rec = await readInflight(pool, lab.inv.data.pairs[0], 'node-b')
    assert.ok(rec && !('bad' in rec), JSON.stringify(rec))
    if (!rec || 'bad' in rec) return
    assert.is(rec.source, 'node-a')
    // The truth, from both disks: what node-a has that node-b lacks or holds otherwise, and what node-b still has that node-a deleted.
    const list = (n: string) =>
      script(lab, n, 'cd /srv/app && find . -path ./local -prune -o -name .rhosts -prune -o -mindepth 1 -printf "%y %s %T@ %P\\n" | sort')
    const [a, b] = await Promise.all([list('node-a'), list('node-b')])
    const parse = (s: string) =>
      new Map(
        s
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [y, size, , ...p] = l.split(' ')
            return [p.join(' '), `${y} ${size}`]
          }),
      )
    const A = parse(a),
      B = parse(b)
    const differ = new Set<string>()
    for (const [p, v] of A) if (B.get(p) !== v && !v.startsWith('d')) differ.add(`/srv/app/${p}`)
    for (const [p, v] of B) if (!A.has(p) && !v.startsWith('d')) differ.add(`/srv/app/${p}`)
    const named = new Set(rec.paths.filter((p) => p.item === 'app').map((p) => p.path))
    // A deleted directory is one entry in the list; its files are what differs on disk.
    const covered = (p: string) => named.has(p) || [...named].some((n) => p.startsWith(n + '/'))
    const missing = [...differ].filter((p) => !covered(p))
    const extra = [...named].filter((n) => ![...differ].some((p) => p === n || p.startsWith(n + '/')))
    assert.equal(missing, [], 'files that did not arrive and are not in the list')
    assert.equal(extra, [], 'paths in the list that did arrive')
    assert.ok(differ.size >= 26, `expected the writes to be held back (${differ.size} differ)`)
    inflightBefore = rec.count
    // status names them too: the count and the first paths.
    const st = formatStatus([await pairStatus(lab.inv, lab.inv.data.pairs[0], pool)])
    assert.match(st, new RegExp(`in flight: ${rec.count} path\\(s\\) in flight from node-a to node-b .*: /srv/app/`))
  } finally {
    pool.close()
  }
})

test('failed over to node-b: the takeover event names the in-flight list, and the follower follows node-b', async () => {
  const from = f!.events.length
  const pool = new SshPool(lab.inv)
  try {
    const fo = await runFailover(lab.inv, pool, lab.inv.data.pairs[0], { operation: 'failover', to: 'node-b', force: true })
    assert.ok(fo.ok, JSON.stringify(fo.steps))
    const tk = await f!.waitFor((e) => e.event === 'takeover', 30_000, from)
    assert.is(tk.from, 'node-a')
    assert.is(tk.to, 'node-b')
    assert.is(tk.inflight.count, inflightBefore)
    assert.ok(tk.inflight.first.length > 0)
    const st = await f!.waitFor((e) => e.event === 'start' && e.source === 'node-b', 30_000, from)
    assert.equal(st.targets, ['node-a'])
    // node-a is fenced (powered off): it is the lost target now, and nothing ships from it.
    await f!.waitFor((e) => e.event === 'degraded' && e.target === 'node-a', 30_000, from)
    const status = formatStatus([await pairStatus(lab.inv, lab.inv.data.pairs[0], pool)])
    assert.match(status, new RegExp(`in flight: ${inflightBefore} path\\(s\\) changed on node-a had not reached node-b when it took over: /srv/app/`))
  } finally {
    pool.close()
  }
})

test.run()
