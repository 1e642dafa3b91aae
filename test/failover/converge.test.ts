// "Trust what is observed", on a real three-node lab pair: failover and failback converge from
// broken states (a failed start, the VIP on two nodes, a db down), a record forged or cut short
// is refused until an operator resolves it, and a re-run after a crash says it resumed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { httpBody, startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook, type PlaybookRun } from '../helpers/playbook.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { observe } from '../../lib/observe.ts'
import { readNodeState, writeNodeState } from '../../lib/state.ts'

let lab: TestLab
let file: string
let vip: string
const nodes = ['node-a', 'node-b', 'node-c']
const STATE = '/var/lib/hapair/demo'
const audit = path.join(os.tmpdir(), `hapair-converge-audit-${process.pid}.jsonl`)

test.before(async () => {
  lab = await startTestLab({
    mutate: (j) => {
      j.pairs[0].nodes.push({ name: 'node-c', address: '198.51.100.13', interface: 'eth0' })
    },
  })
  file = lab.file
  vip = lab.inv.data.pairs[0].floatingIps![0].address
})
test.after(async () => {
  await lab?.down()
})

const env = { HAPAIR_AUDIT_LOG: audit }
const run = (name: string, ...args: string[]) => playbook(name, ['--inventory', file, ...args], { env })
const failover = (...args: string[]) => run('failover', '--yes', '--json', ...args)
const failback = (...args: string[]) => run('failback', '--yes', '--json', ...args)
const sh = (node: string, script: string) => lab.exec(node, ['sh', '-c', script])
const out = (r: PlaybookRun) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`

const execOn = (n: string, argv: string[]) => lab.tryExec(n, argv)
const dbOn = () => lab.runningOn('db')
async function observed() {
  const pool = new SshPool(lab.inv)
  try {
    return await observe(lab.inv, pool, lab.inv.data.pairs[0])
  } finally {
    pool.close()
  }
}
/** Exactly one live writer, serving through the VIP, and the records name it. */
async function assertConsistent(expected: string) {
  assert.equal(await lab.holders(vip), [expected], 'the VIP on exactly the expected node')
  assert.equal(await dbOn(), [expected], 'db runs exactly there')
  assert.is(await httpBody(vip), expected)
  const o = await observed()
  assert.is(o.view.active, expected)
  assert.equal(o.problems, [])
}
async function reset() {
  for (const n of nodes) {
    await labFault(lab.inv, 'heal', n)
    if ((await execOn(n, ['true'])).code !== 0) await labFault(lab.inv, 'start', n)
  }
  await sh('node-b', 'rm -f /var/lib/lab/bin/svc.broken; [ -f /var/lib/lab/bin/svc.real ] && mv -f /var/lib/lab/bin/svc.real /var/lib/lab/bin/svc; true')
  const r = await failover('--to', 'node-a', '--resolve', '--force')
  assert.is(r.code, 0, out(r))
  await assertConsistent('node-a')
  const s = await run('sync')
  assert.is(s.code, 0, out(s))
}
const lockDir = async (n: string) => (await execOn(n, ['test', '-d', `${STATE}/lock`])).code === 0
const auditEntries = () =>
  readFileSync(audit, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))

test('a converged pair: failover --to the active node is a no-op in JSON, text, dry run and audit alike', async () => {
  await assertConsistent('node-a')
  const before = (await observed()).view.epoch
  const j = json(await failover('--to', 'node-a'))
  assert.ok(j.ok && j.noop, JSON.stringify(j))
  assert.is(j.epoch, before)
  assert.match(j.steps.find((s: any) => s.name === 'preflight').detail, /nothing to do/)
  const text = await run('failover', '--yes', '--to', 'node-a')
  assert.is(text.code, 0)
  assert.match(text.stdout, /nothing to do/)
  assert.not.match(text.stdout, /epoch \d+\)?;? RTO/)
  const dry = json(await failover('--to', 'node-a', '--dry-run'))
  assert.ok(dry.noop, JSON.stringify(dry))
  assert.equal(dry.plan.length, 1)
  assert.match(dry.plan[0], /nothing to do/)
  assert.not.ok(dry.plan.some((l: string) => /fence/.test(l)))
  const last = auditEntries().at(-1)
  assert.ok(last.noop && last.epoch === before, JSON.stringify(last))
  assert.is((await observed()).view.epoch, before, 'no epoch was written')
})

test('status: the singleton down on the active node is DEGRADED (exit 1); failover --to it converges', async () => {
  await sh('node-a', '/var/lib/lab/bin/svc stop db')
  const st = await run('status')
  assert.is(st.code, 1, out(st))
  assert.match(st.stdout, /db is down on the active node node-a/)
  const dry = json(await failover('--to', 'node-a', '--dry-run'))
  assert.not.ok(dry.noop)
  assert.ok(
    dry.plan.some((l: string) => /start: node-a: .*svc start db/.test(l)),
    dry.plan.join('\n'),
  )
  const r = await failover('--to', 'node-a')
  assert.is(r.code, 0, out(r))
  assert.not.ok(json(r).noop)
  await assertConsistent('node-a')
  assert.is((await run('status')).code, 0)
})

test('the VIP on two nodes: status says so, failover --to node-a releases it from node-b', async () => {
  await sh('node-b', `ip addr add ${vip}/24 dev eth0`)
  assert.equal(await lab.holders(vip), ['node-a', 'node-b'])
  const st = json(await run('status', '--json'))
  assert.ok(
    st.pairs[0].degradedReasons.some((x: string) => /held by 2 nodes/.test(x)),
    JSON.stringify(st.pairs[0].degradedReasons),
  )
  const r = await failover('--to', 'node-a')
  assert.is(r.code, 0, out(r))
  assert.match(json(r).steps.find((s: any) => s.name === 'move-ip').detail, /removed from node-b/)
  await assertConsistent('node-a')
})

test('a failed start keeps the lock and journal; sync refuses; failback converges back to node-a', async () => {
  // db's start command fails on node-b; everything else works.
  await sh(
    'node-b',
    `mv /var/lib/lab/bin/svc /var/lib/lab/bin/svc.real && printf '%s\\n' '#!/bin/sh' '[ "$1 $2" = "start db" ] && { echo broken >&2; exit 1; }' 'exec /var/lib/lab/bin/svc.real "$@"' > /var/lib/lab/bin/svc && chmod +x /var/lib/lab/bin/svc`,
  )
  const r = await failover('--to', 'node-b')
  assert.is(r.code, 1, out(r))
  const j = json(r)
  assert.not.ok(j.steps.find((s: any) => s.name === 'start-services').ok)
  assert.ok((await lockDir('node-a')) && (await lockDir('node-b')), 'the lock stays')
  const sync = await run('sync')
  assert.is(sync.code, 3, out(sync))
  assert.match(sync.stderr, /failover/)
  const st = await run('status')
  assert.is(st.code, 1)
  await sh('node-b', 'mv -f /var/lib/lab/bin/svc.real /var/lib/lab/bin/svc')
  const back = await failback()
  assert.is(back.code, 0, out(back))
  const b = json(back)
  assert.not.ok(b.noop)
  assert.ok(b.steps.some((s: any) => s.name === 'move-ip' && s.ok))
  await assertConsistent('node-a')
  assert.not.ok(await lockDir('node-a'), 'released once converged')
  assert.is((await run('status')).code, 0)
})

test('a failed start followed by a plain failover: it resumes toward node-b and converges there', async () => {
  await sh(
    'node-b',
    `mv /var/lib/lab/bin/svc /var/lib/lab/bin/svc.real && printf '%s\\n' '#!/bin/sh' '[ "$1 $2" = "start db" ] && { echo broken >&2; exit 1; }' 'exec /var/lib/lab/bin/svc.real "$@"' > /var/lib/lab/bin/svc && chmod +x /var/lib/lab/bin/svc`,
  )
  const r = await failover('--to', 'node-b')
  assert.is(r.code, 1, out(r))
  await sh('node-b', 'mv -f /var/lib/lab/bin/svc.real /var/lib/lab/bin/svc')
  const again = await failover()
  assert.is(again.code, 0, out(again))
  assert.ok(json(again).resumed, again.stdout)
  await assertConsistent('node-b')
  await reset()
})

test('three nodes: failback brings every node up to date; a stale node-c is refused; mirror deletes are guarded', async () => {
  let r = await failover('--to', 'node-b')
  assert.is(r.code, 0, out(r))
  await sh('node-b', 'mkdir -p /srv/app/data/bulk && for i in $(seq 1 40); do head -c 262144 /dev/urandom > /srv/app/data/bulk/f$i.bin; done')
  r = await failback()
  assert.is(r.code, 0, out(r))
  for (const n of ['node-a', 'node-c']) assert.is((await sh(n, 'ls /srv/app/data/bulk | wc -l')).stdout.trim(), '40', `${n} got the data`)
  assert.is((await run('status')).code, 0)
  // Now node-c misses a change: status names it, failover to it is refused.
  await sh('node-a', 'head -c 4096 /dev/urandom > /srv/app/data/late.bin')
  const st = json(await run('status', '--json')).pairs[0]
  assert.ok(
    st.degradedReasons.some((x: string) => /node-c is behind node-a: app/.test(x)),
    st.degradedReasons.join('\n'),
  )
  r = await failover('--to', 'node-c')
  assert.is(r.code, 3, out(r))
  assert.match(r.stderr, /node-c is behind the active node node-a: app/)
  // Forced onto the stale node, a plain mirror sync would delete what only a and b have: refused.
  await sh('node-c', 'rm -rf /srv/app/data/bulk')
  r = await failover('--to', 'node-c', '--force')
  assert.is(r.code, 0, out(r))
  const sync = await run('sync', '--json')
  assert.is(sync.code, 3, out(sync))
  assert.match(sync.stdout + sync.stderr, /bulk\/f\d+\.bin/)
  for (const n of ['node-a', 'node-b']) assert.is((await sh(n, 'ls /srv/app/data/bulk | wc -l')).stdout.trim(), '40', `${n} kept its data`)
  await reset()
})

test('a forged record on a passive node is refused by status, sync and failover until --resolve', async () => {
  await sh('node-a', 'echo real-active-write > /srv/app/data/keep.txt')
  const forged = JSON.stringify({ epoch: 999, active: 'node-b', since: new Date().toISOString(), by: 'someone' })
  await sh('node-b', `printf '%s' '${forged}' > ${STATE}/active.json`)
  const st = await run('status')
  assert.is(st.code, 1, out(st))
  assert.match(st.stdout, /records say node-b is active \(epoch 999\), but .* is on node-a/)
  assert.match(st.stdout, /jumps to epoch 999/)
  const sync = await run('sync')
  assert.is(sync.code, 3, out(sync))
  assert.match(sync.stderr, /--to node-a --resolve/)
  assert.is((await sh('node-a', 'cat /srv/app/data/keep.txt')).stdout.trim(), 'real-active-write')
  const plain = await failover('--to', 'node-a')
  assert.is(plain.code, 3, out(plain))
  const r = await failover('--to', 'node-a', '--resolve')
  assert.is(r.code, 0, out(r))
  assert.is(json(r).epoch, 1000, 'above every epoch seen')
  await assertConsistent('node-a')
  for (const n of nodes) assert.match((await sh(n, `cat ${STATE}/active.json`)).stdout, /"epoch": 1000/)
})

test('a truncated active.json on one node: status names the file, failover and sync refuse (exit 3)', async () => {
  await sh('node-c', `head -c 20 ${STATE}/active.json > /tmp/cut && mv /tmp/cut ${STATE}/active.json`)
  const st = await run('status')
  assert.is(st.code, 1)
  assert.match(st.stdout, new RegExp(`node-c: ${STATE}/active.json is unusable: not valid JSON`))
  assert.is((await run('sync')).code, 3)
  const r = await failover('--to', 'node-b')
  assert.is(r.code, 3, out(r))
  assert.match(r.stderr, /active\.json is unusable/)
  assert.equal(await lab.holders(vip), ['node-a'], 'nothing changed')
  const fix = await failover('--to', 'node-a', '--resolve')
  assert.is(fix.code, 0, out(fix))
  assert.ok(json(fix).epoch > 1000, 'the epoch never goes back')
  await assertConsistent('node-a')
})

test('a record write that fails (ulimit -f) fails loudly and leaves the old record whole', async () => {
  const pool = new SshPool(lab.inv)
  const pair = lab.inv.data.pairs[0]
  try {
    const s = pool.session(pair, 'node-b')
    const before = (await readNodeState(s, pair)).active
    // The real session and shell, with a 1-block file-size limit in front of the write.
    const limited = { ...s, name: s.name, run: (cmd: any, o?: any) => s.run({ script: `ulimit -f 1; ${cmd.script}` }, o) } as typeof s
    const big = { ...before!, by: 'x'.repeat(4096) }
    let err: Error | undefined
    try {
      await writeNodeState(limited, pair, 'active', big)
    } catch (e) {
      err = e as Error
    }
    assert.ok(err, 'the write must fail')
    assert.match(err!.message, /node-b/)
    assert.equal((await readNodeState(s, pair)).active, before)
    assert.is((await sh('node-b', `ls ${STATE} | grep -c tmp || true`)).stdout.trim(), '0', 'no temporary file left')
  } finally {
    pool.close()
  }
})

test('--force without fencing: "not fenced" is a warning, said before and after, exit 0', async () => {
  const nofence = file.replace(/\.json$/, '.nofence.json')
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  data.pairs[0].fencing = { driver: 'none' }
  data.pairs[0].nodes = data.pairs[0].nodes.filter((n: any) => n.name !== 'node-c')
  writeFileSync(nofence, JSON.stringify(data))
  await labFault(lab.inv, 'isolate', 'node-a')
  try {
    const refused = await playbook('failover', ['--inventory', nofence, '--yes', '--to', 'node-b'], { env })
    assert.is(refused.code, 3, out(refused))
    assert.match(refused.stderr, /two live writers/)
    const r = await playbook('failover', ['--inventory', nofence, '--yes', '--to', 'node-b', '--force'], { env })
    assert.is(r.code, 0, out(r))
    assert.match(r.stdout, /WARN fence .*NOT FENCED/)
    assert.match(r.stdout, /warning: forced: --force takes over while node-a may still hold/)
    assert.equal(await lab.holders(vip), ['node-a', 'node-b'], 'the risk was real: node-a was never stopped')
  } finally {
    await labFault(lab.inv, 'heal', 'node-a')
  }
  await reset()
})

test('an audit log that cannot be written is a warning; the failover still succeeds', async () => {
  const r = await playbook('failover', ['--inventory', file, '--yes', '--json', '--to', 'node-b'], {
    env: { HAPAIR_AUDIT_LOG: '/dev/null/hapair/audit.jsonl' },
  })
  assert.is(r.code, 0, out(r))
  assert.ok(
    json(r).warnings.some((w: string) => /audit log not written/.test(w)),
    r.stdout,
  )
  await assertConsistent('node-b')
  await reset()
})

test('a re-run after the address moved announces it again (neighbours with a stale entry learn it)', async () => {
  const crashed = await playbook('failover', ['--inventory', file, '--yes', '--json', '--to', 'node-b'], {
    env: { ...env, HAPAIR_CRASH_AFTER_STEP: 'move-ip' },
  })
  assert.is(crashed.signal, 'SIGKILL', out(crashed))
  assert.equal(await lab.holders(vip), ['node-b'])
  // node-a still believes the old owner: a wrong MAC for the VIP, fresh enough to be used.
  await sh('node-a', `ip neigh replace ${vip} lladdr 02:00:00:00:00:99 dev eth0 nud reachable`)
  await new Promise((res) => setTimeout(res, 1100)) // past the neighbour lock time
  const r = await failover('--to', 'node-b')
  assert.is(r.code, 0, out(r))
  const macB = (await sh('node-b', 'cat /sys/class/net/eth0/address')).stdout.trim()
  let seen = ''
  for (let i = 0; i < 20 && seen !== macB; i++) {
    seen = /lladdr (\S+)/.exec((await sh('node-a', `ip neigh show ${vip} dev eth0`)).stdout)?.[1] ?? ''
    if (seen !== macB) await new Promise((res) => setTimeout(res, 50))
  }
  assert.is(seen, macB, 'node-a learned the VIP is on node-b')
  await assertConsistent('node-b')
  await reset()
})

for (const step of ['fence', 'move-ip', 'start-services', 'post-check', 'record']) {
  test(`killed after ${step} on the way to node-c: a plain re-run says it resumed and finishes on node-c`, async () => {
    const crashed = await playbook('failover', ['--inventory', file, '--yes', '--json', '--to', 'node-c'], { env: { ...env, HAPAIR_CRASH_AFTER_STEP: step } })
    assert.is(crashed.signal, 'SIGKILL', out(crashed))
    // A fresh run would not pick node-c: with three nodes and no --to it must ask.
    const again = await failover()
    assert.is(again.code, 0, out(again))
    const j = json(again)
    assert.ok(j.resumed, JSON.stringify(j))
    assert.match(j.steps[0].detail, /found an interrupted failover to node-c/)
    assert.is(j.to, 'node-c')
    await assertConsistent('node-c')
    await reset()
  })
}

test.run()
