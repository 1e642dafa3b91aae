// Failover and failback against the lab: real sshd, real `ip addr` moves, real services.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { httpBody, startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { activeView } from '../../lib/active.ts'
import { runFailover } from '../../lib/failover/run.ts'
import { lockDir } from '../../lib/lock.ts'
import type { ChildProcess } from 'node:child_process'

let lab: TestLab
let file: string
let vip: string
const nodes = ['node-a', 'node-b']
test.before(async () => {
  lab = await startTestLab()
  file = lab.file
  vip = lab.inv.data.pairs[0].floatingIps![0].address
})
test.after(async () => {
  await lab?.down()
})

const run = (name: string, ...args: string[]) => playbook(name, ['--inventory', file, ...args])
const failover = (...args: string[]) => run('failover', '--yes', '--json', ...args)

const execOn = (n: string, argv: string[]) => lab.tryExec(n, argv)
const dbOn = () => lab.runningOn('db')
// In-process where the CLI itself is not under test: a spawned playbook costs a second of start-up.
async function activeOf(): Promise<string> {
  const pool = new SshPool(lab.inv)
  try {
    return (await activeView(pool, lab.inv.data.pairs[0])).active
  } finally {
    pool.close()
  }
}
async function failoverInProcess(to: string) {
  const pool = new SshPool(lab.inv)
  try {
    return await runFailover(lab.inv, pool, lab.inv.data.pairs[0], { operation: 'failover', to, force: true, breakLock: true, resolve: true })
  } finally {
    pool.close()
  }
}
/** Exactly one live writer, and it is the node the pair records as active. */
async function assertConsistent(expected?: string) {
  const h = await lab.holders(vip)
  const d = await dbOn()
  assert.is(h.length, 1, `VIP on exactly one node, got [${h}]`)
  assert.equal(d, h, `db runs exactly where the VIP is: db [${d}], VIP [${h}]`)
  assert.is(await httpBody(vip), h[0])
  assert.is(await activeOf(), h[0])
  if (expected) assert.is(h[0], expected)
}
/** Back to the starting point: every node powered on and linked, node-a active. */
async function reset() {
  for (const n of nodes) {
    await labFault(lab.inv, 'heal', n)
    if ((await execOn(n, ['true'])).code !== 0) await labFault(lab.inv, 'start', n)
  }
  if ((await lab.holders(vip))[0] !== 'node-a' || (await activeOf()) !== 'node-a') {
    const r = await failoverInProcess('node-a')
    assert.ok(r.ok, r.error)
  }
  await assertConsistent('node-a')
}

test('the lab starts consistent: node-a active from the inventory', async () => {
  await assertConsistent('node-a')
})

test('dry run prints the plan and changes nothing', async () => {
  const r = await failover('--dry-run')
  assert.is(r.code, 0, r.stderr)
  const j = json(r)
  assert.ok(j.dryRun)
  assert.ok(
    j.plan.some((l: string) => l.includes('ip addr add') && l.includes(vip)),
    j.plan.join('\n'),
  )
  assert.ok(j.plan.some((l: string) => l.includes('svc stop db')))
  await assertConsistent('node-a')
})

test('planned switchover moves VIP and singleton; JSON has the documented fields', async () => {
  const r = await failover()
  assert.is(r.code, 0, r.stdout + r.stderr)
  const j = json(r)
  assert.is(j.pair, 'demo')
  assert.is(j.from, 'node-a')
  assert.is(j.to, 'node-b')
  assert.is(j.active, 'node-b')
  assert.equal(
    j.steps.map((s: any) => s.name),
    ['lock', 'preflight', 'stop-syncs', 'fence', 'move-ip', 'start-services', 'post-check', 'record'],
  )
  assert.ok(j.steps.every((s: any) => s.ok && typeof s.ms === 'number'))
  assert.type(j.rtoMs, 'number')
  assert.ok(j.epoch >= 1)
  await assertConsistent('node-b')
})

test('switching back with --to, and a second run to the same node is a no-op', async () => {
  const r = await failover('--to', 'node-a')
  assert.is(r.code, 0, r.stdout + r.stderr)
  await assertConsistent('node-a')
  const again = await failover('--to', 'node-a')
  assert.is(again.code, 0)
  assert.ok(json(again).noop)
  assert.match(json(again).steps[1].detail, /already active/)
  await assertConsistent('node-a')
})

test('failback brings the primary up to date from the active node, then switches back', async () => {
  assert.is((await failover()).code, 0)
  await lab.exec('node-b', ['sh', '-c', 'echo written-while-b-was-active > /srv/app/data/new.txt'])
  const r = await run('failback', '--yes', '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
  const j = json(r)
  assert.equal(
    j.steps.map((s: any) => s.name),
    ['lock', 'preflight', 'sync-back', 'stop-syncs', 'fence', 'move-ip', 'start-services', 'post-check', 'record'],
  )
  assert.is(j.active, 'node-a')
  assert.is((await lab.exec('node-a', ['cat', '/srv/app/data/new.txt'])).stdout.trim(), 'written-while-b-was-active')
  await assertConsistent('node-a')
})

test('failback refuses when an item cannot reach the primary (version gate), unless --force', async () => {
  assert.is((await failover()).code, 0)
  await lab.exec('node-b', ['sh', '-c', 'echo only-on-b > /srv/app/data/gated.txt'])
  await lab.exec('node-a', ['sh', '-c', 'echo 2 > /var/lib/app/data-version'])
  try {
    const r = await run('failback', '--yes')
    assert.is(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, /node-a is still behind node-b after the sync: app/)
    await assertConsistent('node-b')
    const forced = await run('failback', '--yes', '--force')
    assert.is(forced.code, 0, forced.stdout + forced.stderr)
  } finally {
    await lab.exec('node-a', ['sh', '-c', 'echo 1 > /var/lib/app/data-version'])
  }
  await assertConsistent('node-a')
})

test('an unreachable target is refused (exit 3) and nothing changes', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  const r = await failover()
  assert.is(r.code, 3, r.stdout + r.stderr)
  assert.match(r.stderr, /node-b is not reachable/)
  await labFault(lab.inv, 'heal', 'node-b')
  await assertConsistent('node-a')
})

test('a target that is behind (a change it never received) is refused; --force takes over without the change, saying so', async () => {
  // A degraded mark alone proves nothing; the data does: node-b lacks a file node-a has.
  await lab.exec('node-a', ['sh', '-c', 'echo newer > /srv/app/data/unsynced.txt'])
  const r = await failover()
  assert.is(r.code, 3, r.stdout + r.stderr)
  assert.match(r.stderr, /target node-b is behind the active node node-a: app/)
  await assertConsistent('node-a')
  const forced = await failover('--force')
  assert.is(forced.code, 0, forced.stdout + forced.stderr)
  const warnings: string[] = json(forced).warnings
  assert.ok(
    warnings.some((w) => w.startsWith('forced: --force makes node-b active without app as node-a has them')),
    warnings.join('\n'),
  )
  assert.is((await execOn('node-b', ['test', '-e', '/srv/app/data/unsynced.txt'])).code, 1, 'what was forced: node-b serves without the change')
  await assertConsistent('node-b')
  await reset()
  assert.is((await run('sync')).code, 0)
  const ok = await failover('--dry-run')
  assert.is(ok.code, 0, ok.stdout + ok.stderr)
})

test('a target whose services cannot start is refused', async () => {
  await lab.exec('node-b', ['mv', '/var/lib/lab/bin/svc', '/var/lib/lab/bin/svc.off'])
  try {
    const r = await failover()
    assert.is(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, /not found on node-b/)
  } finally {
    await lab.exec('node-b', ['mv', '/var/lib/lab/bin/svc.off', '/var/lib/lab/bin/svc'])
  }
  await assertConsistent('node-a')
})

test('isolated active node: fenced, and after heal it does not take the VIP back', async () => {
  await labFault(lab.inv, 'isolate', 'node-a')
  const r = await failover()
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.match(json(r).steps.find((s: any) => s.name === 'fence').detail, /powered off/)
  await labFault(lab.inv, 'heal', 'node-a')
  await assertConsistent('node-b')
  await labFault(lab.inv, 'start', 'node-a') // powered on again: still no VIP, no db on node-a
  await assertConsistent('node-b')
  const st = json(await run('status', '--json')).pairs[0]
  assert.equal(st.floatingIps[0].holders, ['node-b'])
  await reset()
})

test('killed active node: failover completes on the survivor', async () => {
  await labFault(lab.inv, 'kill', 'node-a')
  const r = await failover()
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.match(json(r).steps.find((s: any) => s.name === 'fence').detail, /already powered off/)
  await assertConsistent('node-b')
  await reset()
})

test('unreachable active and no fencing driver: refused, naming the two-writers risk', async () => {
  const nofence = file.replace(/\.json$/, '.nofence.json')
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  data.pairs[0].fencing = { driver: 'none' }
  writeFileSync(nofence, JSON.stringify(data))
  await labFault(lab.inv, 'isolate', 'node-a')
  try {
    const r = await playbook('failover', ['--inventory', nofence, '--yes'])
    assert.is(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, /no fencing driver/)
    assert.match(r.stderr, /two live writers/)
    assert.equal(await lab.holders(vip), ['node-a'])
  } finally {
    await labFault(lab.inv, 'heal', 'node-a')
  }
  await assertConsistent('node-a')
})

test('concurrent runs: one wins, the other is refused naming the lock holder', async () => {
  // The first run is frozen (SIGSTOP, its own PID) the moment its lock exists, so the second
  // surely meets a live holder; without the freeze a fast first run can finish before the second starts.
  const pair = lab.inv.data.pairs[0]
  let child: ChildProcess | undefined
  const first = playbook('failover', ['--inventory', file, '--yes', '--json'], { onSpawn: (c) => (child = c) })
  const deadline = Date.now() + 30000
  while ((await execOn('node-a', ['test', '-f', `${lockDir(pair)}/owner`])).code !== 0) {
    assert.ok(Date.now() < deadline, 'the first run never took the lock')
    await new Promise((r) => setTimeout(r, 20))
  }
  child!.kill('SIGSTOP')
  let second
  try {
    second = await failover()
  } finally {
    child!.kill('SIGCONT')
  }
  const a = await first
  assert.is(a.code, 0, a.stdout + a.stderr)
  assert.is(second.code, 3, second.stdout + second.stderr)
  assert.match(second.stderr, /locked on node-[ab] by \S+@\S+ pid \d+ \(failover/)
  await assertConsistent('node-b')
  await reset()
})

test('two failovers racing over a stale lock: exactly one wins every round, one audit entry per epoch', async () => {
  const { spawnSync } = await import('node:child_process')
  const os = await import('node:os')
  const audit = `${file}.race-audit.jsonl`
  for (let round = 0; round < 4; round++) {
    // A lock left by a run that died on this host: its pid is provably gone.
    const dead = spawnSync('true').pid!
    const owner = JSON.stringify({
      owner: `root@${os.hostname()} pid ${dead}`,
      host: os.hostname(),
      pid: dead,
      operation: 'failover',
      at: new Date().toISOString(),
      expires: new Date(Date.now() + 60_000).toISOString(),
      id: 'dead',
    })
    for (const n of nodes) await lab.exec(n, ['sh', '-c', 'mkdir -p "$1" && printf %s "$2" > "$1/owner"', 'sh', '/var/lib/hapair/demo/lock', owner])
    const to = round % 2 ? 'node-a' : 'node-b'
    const env = { HAPAIR_AUDIT_LOG: audit }
    const [a, b] = await Promise.all([0, 1].map(() => playbook('failover', ['--inventory', file, '--yes', '--json', '--to', to], { env })))
    const codes = [a.code, b.code].sort()
    assert.equal(codes, [0, 3], `round ${round}: codes ${a.code} ${b.code}\n${a.stdout}${a.stderr}\n${b.stdout}${b.stderr}`)
    assert.match((a.code === 3 ? a : b).stderr, /locked on node-[ab] by|took the stale lock on node-[ab] first/)
    await assertConsistent(to)
  }
  const { readFileSync } = await import('node:fs')
  const entries = readFileSync(audit, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((e) => e.ok && !e.noop)
  assert.is(entries.length, 4)
  assert.is(new Set(entries.map((e) => e.epoch)).size, 4, 'one switchover per epoch')
})

test("killed after taking the lock: the next run takes the dead run's lock over and switches", async () => {
  const crashed = await playbook('failover', ['--inventory', file, '--yes', '--json'], { env: { HAPAIR_CRASH_AFTER_STEP: 'lock' } })
  assert.is(crashed.signal, 'SIGKILL', `expected the crash hook to fire: ${crashed.stdout}${crashed.stderr}`)
  const again = await failover()
  assert.is(again.code, 0, again.stdout + again.stderr)
  await assertConsistent('node-b')
  await reset()
})

test('bad inventory: exit 2 and nothing changed', async () => {
  const bad = file.replace(/\.json$/, '.bad.json')
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  data.pairs[0].nodes[1].address = '10.0.0.300'
  writeFileSync(bad, JSON.stringify(data))
  const r = await playbook('failover', ['--inventory', bad, '--yes'])
  assert.is(r.code, 2)
  assert.match(r.stderr, /pairs\/0\/nodes\/1\/address: must match format "ipv4"/)
  assert.not.match(r.stderr, /\n\s+at /)
  await assertConsistent('node-a')
})

test('without a terminal and without --yes it refuses with exit 2', async () => {
  const r = await run('failover')
  assert.is(r.code, 2)
  assert.match(r.stderr, /--yes/)
  await assertConsistent('node-a')
})

test('unknown --to node is bad input', async () => {
  const r = await failover('--to', 'node-z')
  assert.is(r.code, 2)
  assert.match(r.stderr, /has no node "node-z"/)
})

test.run()
