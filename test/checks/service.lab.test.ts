// The health-check runners against a real lab pair: command checks run over real SSH on the node
// named, network checks go from the controller through each address to the lab's real web and
// db servers, and a node cut off for real fails its command checks with why.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { commandProbe, runServiceChecks, serviceChecksUntil } from '../../lib/checks/service-probe.ts'
import type { HealthCheck, Pair, Service } from '../../lib/inventory/schema.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'

let lab: TestLab
let pool: SshPool
let pair: Pair
let vip: string
let addrA: string
test.before(async () => {
  lab = await startTestLab()
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
  vip = pair.floatingIps![0].address
  addrA = pair.nodes[0].address
})
test.after(async () => {
  pool?.close()
  await lab?.down()
})

const sh = async (node: string, script: string) => {
  const r = await lab.exec(node, ['sh', '-c', script])
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}
const svc = (name: string, checks: Partial<HealthCheck>[]) => ({ name, start: 'true', stop: 'true', status: 'true', checks }) as Service
const withServices = (services: Service[]) => ({ ...pair, services }) as Pair
const web = (extra: Partial<HealthCheck> = {}) => ({ protocol: 'http', port: 8080, expectBody: '{node}', ...extra }) as Partial<HealthCheck>
const db = { protocol: 'tcp', port: 5432, send: 'ping\n', expect: '{node}' } as Partial<HealthCheck>
/** A command check that leaves a trace on the node it ran on. */
const TRACE = '/var/lib/lab/service-check-trace' // private to each node (/tmp is the host's)
const traced = { protocol: 'command', command: `echo checked >> ${TRACE}` } as Partial<HealthCheck>
const traces = async (node: string) => Number((await sh(node, `[ -f ${TRACE} ] && wc -l < ${TRACE} || echo 0`)).trim())

test('command health check runs on the node: exit 0 passes, else the exit code and last stderr line', async () => {
  const s = pool.session(pair, 'node-a')
  assert.equal(await commandProbe(s, { protocol: 'command', command: 'true' }), { ok: true, detail: '`true` on node-a' })
  assert.equal(await commandProbe(s, { protocol: 'command', command: 'echo db down >&2; exit 3' }), {
    ok: false,
    detail: '`echo db down >&2; exit 3` on node-a exited 3: db down',
  })
})

test('runServiceChecks: every check of every service, network ones through each address, commands once on the node', async () => {
  for (const n of ['node-a', 'node-b']) await sh(n, `rm -f ${TRACE}`)
  const p = withServices([svc('web', [web()]), svc('db', [db, traced])])
  const r = await runServiceChecks(pool, p, { node: 'node-a', addresses: [vip, addrA] })
  assert.equal(r.failures, [])
  assert.is(r.ok, true)
  assert.is(r.count, 3)
  assert.is(r.passed.length, 5, 'two network checks through two addresses, one command')
  assert.equal([await traces('node-a'), await traces('node-b')], [1, 0], 'the command ran once, on node-a')
  // As node-b: {node} means the node named (node-a answers through the VIP), and the command runs there.
  const asB = await runServiceChecks(pool, p, { node: pair.nodes[1], addresses: [vip] })
  assert.is(asB.ok, false)
  assert.equal(
    asB.failures.map((f) => f.split(':')[0]),
    ['web', 'db'],
    asB.failures.join('\n'),
  )
  assert.equal([await traces('node-a'), await traces('node-b')], [1, 1], 'the command ran on node-b')
})

test('runServiceChecks: only the services asked for; each check keeps its own timeout', async () => {
  const p = withServices([svc('web', [web()]), svc('slow', [{ protocol: 'command', command: 'sleep 5', timeoutMs: 300 }])])
  assert.is((await runServiceChecks(pool, p, { node: 'node-a', addresses: [vip], services: ['web'] })).count, 1)
  const t0 = Date.now()
  const r = await runServiceChecks(pool, p, { node: 'node-a', addresses: [vip] })
  assert.ok(Date.now() - t0 < 2000, `stopped at the check's 300 ms, not the command default (${Date.now() - t0} ms)`)
  assert.equal(
    r.failures.map((f) => f.split(':')[0]),
    ['slow'],
  )
})

test('runServiceChecks: a node that cannot be asked fails its command checks with why; the others still run', async () => {
  // node-b cut off for real; web answers through the VIP on node-a whoever asks.
  const p = withServices([svc('web', [web({ expectBody: undefined })]), svc('db', [{ protocol: 'command', command: 'true' }])])
  await labFault(lab.inv, 'isolate', 'node-b')
  const fresh = new SshPool(lab.inv)
  let r
  try {
    r = await runServiceChecks(fresh, p, { node: 'node-b', addresses: [vip] })
  } finally {
    fresh.close()
    await labFault(lab.inv, 'heal', 'node-b')
  }
  assert.is(r.passed.length, 1, r.passed.join('\n'))
  assert.is(r.failures.length, 1)
  assert.match(r.failures[0], /^db: .*node-b.*unreachable|^db: .*unreachable.*node-b/)
})

test('serviceChecksUntil: short attempts first, until the service answers', async () => {
  // db frozen: the kernel still accepts the connection, nothing answers; thawed 400 ms later.
  // That is what a client meets while the address moves.
  const p = withServices([svc('db', [{ ...db, timeoutMs: 2000 }])])
  const pid = (await sh('node-a', 'cat /var/lib/lab/run/db.pid')).trim()
  await sh('node-a', `kill -STOP ${pid}`)
  const thaw = setTimeout(() => {
    void sh('node-a', `kill -CONT ${pid}`)
  }, 400)
  try {
    const r = await serviceChecksUntil(pool, p, { node: 'node-a', addresses: [vip], deadlineMs: 5000 })
    assert.is(r.ok, true, r.failures.join('; '))
    assert.ok(r.attempts >= 2, `retried (${r.attempts} attempts)`)
    assert.ok(r.ms < 2000, `the first attempts were short, not the check's 2 s (${r.ms} ms)`)
    await sh('node-a', `kill -STOP ${pid}`)
    const never = await serviceChecksUntil(pool, p, { node: 'node-a', addresses: [vip], deadlineMs: 300 })
    assert.is(never.ok, false)
    assert.match(never.failures[0], /^db: tcp [\d.]+:5432: no answer within \d+ ms/)
    assert.ok(never.ms < 2500, `the deadline ends it (${never.ms} ms)`)
  } finally {
    clearTimeout(thaw)
    await sh('node-a', `kill -CONT ${pid}`)
  }
})

test.run()
