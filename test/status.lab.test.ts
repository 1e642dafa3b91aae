// pairStatus's degraded rules on a real lab pair, and the exit code cron relies on: each rule is
// broken for real, one at a time, and must make the pair DEGRADED with its own reason (exit 1);
// repaired, the pair is healthy again (exit 0). test/status.test.ts covers the formatter.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { labFault } from '../lib/lab/index.ts'
import { SshPool } from '../lib/ssh.ts'
import { pairStatus } from '../lib/status.ts'
import { startTestLab, type TestLab } from './helpers/lab.ts'
import { json, playbook } from './helpers/playbook.ts'

let lab: TestLab
let vip: string
const STATE = '/var/lib/hapair/demo'
test.before(async () => {
  lab = await startTestLab()
  vip = lab.inv.data.pairs[0].floatingIps![0].address
})
test.after(async () => {
  await lab?.down()
})

const sh = async (node: string, script: string) => {
  const r = await lab.exec(node, ['sh', '-c', script])
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}
/** In-process (a fresh pool each time: a fault may leave dead connections behind). */
async function status() {
  const pool = new SshPool(lab.inv)
  try {
    return await pairStatus(lab.inv, lab.inv.data.pairs[0], pool)
  } finally {
    pool.close()
  }
}
async function assertHealthy(why: string) {
  const st = await status()
  assert.equal(st.degradedReasons, [], `${why}: ${st.degradedReasons.join('; ')}`)
  assert.is(st.degraded, false)
}
/** Degraded, and one reason matches: the rule under test, not some other one, said so. */
async function assertDegraded(want: RegExp) {
  const st = await status()
  assert.is(st.degraded, true, 'degraded')
  assert.ok(
    st.degradedReasons.some((r) => want.test(r)),
    `no reason matches ${want}: ${JSON.stringify(st.degradedReasons)}`,
  )
  return st
}

test('healthy lab: not degraded, exit 0 with the same JSON', async () => {
  await assertHealthy('the lab starts healthy')
  const r = await playbook('status', ['--inventory', lab.file, '--json'])
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.is(json(r).pairs[0].degraded, false)
})

test('degraded: the playbook exits 1 and prints the reason (what cron acts on)', async () => {
  await sh('node-a', '/var/lib/lab/bin/svc stop web')
  try {
    const r = await playbook('status', ['--inventory', lab.file])
    assert.is(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stdout, /DEGRADED/)
    assert.match(r.stdout, /! web is down on the active node node-a/)
  } finally {
    await sh('node-a', '/var/lib/lab/bin/svc start web')
  }
  assert.is((await playbook('status', ['--inventory', lab.file])).code, 0, 'healthy again')
})

const svc = (node: string, action: 'start' | 'stop', name: string) => sh(node, `/var/lib/lab/bin/svc ${action} ${name}`)
const vipOn = (node: string, how: 'add' | 'del') => sh(node, `ip addr ${how} ${vip}/24 dev eth0`)
const webPid = 'cat /var/lib/lab/run/web.pid'
const MARK = '{"since":"2026-12-01T00:00:00Z","reason":"node-b: link lost","pending":{"node-b":["app"]}}'
const FORGED = '{"epoch":999,"active":"node-b","since":"2026-12-01T00:00:00Z","by":"x"}'
interface Rule {
  name: string
  broken: () => Promise<unknown>
  want: RegExp
  repair: () => Promise<unknown>
}
const rules: Rule[] = [
  {
    name: 'an unreachable node',
    want: /^node-b unreachable: /,
    broken: () => labFault(lab.inv, 'isolate', 'node-b'),
    repair: () => labFault(lab.inv, 'heal', 'node-b'),
  },
  { name: 'the VIP on two nodes', want: /held by 2 nodes \(node-a, node-b\)/, broken: () => vipOn('node-b', 'add'), repair: () => vipOn('node-b', 'del') },
  { name: 'the VIP on no node', want: /held by no node/, broken: () => vipOn('node-a', 'del'), repair: () => vipOn('node-a', 'add') },
  {
    name: 'the VIP on the standby only',
    want: /on node-b, but the active node is node-a/,
    broken: async () => {
      await vipOn('node-a', 'del')
      await vipOn('node-b', 'add')
    },
    repair: async () => {
      await vipOn('node-b', 'del')
      await vipOn('node-a', 'add')
    },
  },
  {
    name: 'a service down on the active node',
    want: /^db is down on the active node node-a$/,
    broken: () => svc('node-a', 'stop', 'db'),
    repair: () => svc('node-a', 'start', 'db'),
  },
  {
    name: 'a singleton on both nodes',
    want: /^singleton db runs on node-a and node-b: two live writers$/,
    broken: () => svc('node-b', 'start', 'db'),
    repair: () => svc('node-b', 'stop', 'db'),
  },
  {
    name: 'a singleton on the standby only',
    want: /^singleton db runs on node-b, not on the active node node-a$/,
    broken: async () => {
      await svc('node-a', 'stop', 'db')
      await svc('node-b', 'start', 'db')
    },
    repair: async () => {
      await svc('node-b', 'stop', 'db')
      await svc('node-a', 'start', 'db')
    },
  },
  // Running by its status command, but frozen: only the health check through the VIP can tell.
  {
    name: 'a running service that does not answer',
    want: /^active node-a does not answer: web: /,
    broken: () => sh('node-a', `kill -STOP $(${webPid})`),
    repair: () => sh('node-a', `kill -CONT $(${webPid})`),
  },
  {
    name: 'a sync mark on the active node',
    want: /^sync pending since 2026-12-01T00:00:00Z: node-b: link lost$/,
    broken: () => sh('node-a', `mkdir -p ${STATE} && printf '%s' '${MARK}' > ${STATE}/degraded.json`),
    repair: () => sh('node-a', `rm -f ${STATE}/degraded.json`),
  },
  {
    name: 'a standby that missed a write',
    want: /^node-b is behind node-a: app \(.*status-missed\.txt/,
    broken: () => sh('node-a', 'echo missed > /srv/app/status-missed.txt'),
    repair: () => sh('node-a', 'rm -f /srv/app/status-missed.txt'),
  },
  {
    name: 'a lock left on a node',
    want: /^stale lock on node-b left by an owner that cannot be read/,
    broken: () => sh('node-b', `mkdir -p ${STATE}/lock`),
    repair: () => sh('node-b', `rm -rf ${STATE}/lock`),
  },
  {
    name: 'a forged record',
    want: /records say node-b is active \(epoch 999\)/,
    broken: () => sh('node-b', `mkdir -p ${STATE} && printf '%s' '${FORGED}' > ${STATE}/active.json`),
    repair: () => sh('node-b', `rm -f ${STATE}/active.json`),
  },
]
for (const { name, broken, want, repair } of rules) {
  test(`degraded by ${name}; healthy once repaired`, async () => {
    await broken()
    try {
      await assertDegraded(want)
    } finally {
      await repair()
    }
    await assertHealthy(`after repairing ${name}`)
  })
}

test('one command per node for records, lock, in-flight list and listing, one for all services; the checks alone wait for the records', async () => {
  const pool = new SshPool(lab.inv)
  const pair = lab.inv.data.pairs[0]
  const runs: { node: string; at: number; end: number }[] = []
  for (const n of pair.nodes) {
    const s = pool.session(pair, n)
    const run = s.run.bind(s)
    s.run = async (cmd, opts) => {
      const at = performance.now()
      try {
        return await run(cmd, opts)
      } finally {
        runs.push({ node: n.name, at, end: performance.now() })
      }
    }
  }
  try {
    const st = await pairStatus(lab.inv, pair, pool)
    assert.is(st.degraded, false, st.degradedReasons.join('; '))
  } finally {
    pool.close()
  }
  const fips = pair.floatingIps?.length ?? 0
  // Per node: the combined read (records, lock, in-flight list, listing), the services, each address's probe; the active node's checks once.
  assert.is(runs.length, pair.nodes.length * (2 + fips) + 1, JSON.stringify(runs))
  const firstEnd = Math.min(...runs.map((r) => r.end))
  assert.is(runs.filter((r) => r.at >= firstEnd).length, 1, "one command started after the first answer: the active node's checks")
})

test('an in-flight list that cannot be believed is reported, read with the records', async () => {
  await sh('node-b', `mkdir -p ${STATE} && printf '{not json' > ${STATE}/inflight.json`)
  try {
    const st = await status()
    assert.ok(
      st.inflight?.some((l) => /^node-b: \/var\/lib\/hapair\/demo\/inflight.json is not valid JSON/.test(l)),
      JSON.stringify(st.inflight),
    )
  } finally {
    await sh('node-b', `rm -f ${STATE}/inflight.json`)
  }
  assert.is((await status()).inflight, undefined)
})

test.run()
