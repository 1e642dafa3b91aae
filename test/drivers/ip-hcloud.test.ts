// The hcloud floating-IP driver on a real lab pair: the Hetzner API is the loopback fake (the
// provider's side), the node side is real: the driver's combined scripts run over a real SshPool
// against the lab nodes' sshd and kernels, and what the kernels hold is read with `ip` on the node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HcloudIpDriver } from '../../lib/drivers/ip-hcloud.ts'
import { holdsAddress } from '../../lib/drivers/ip-linux.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import type { FloatingIp, Pair } from '../../lib/inventory/schema.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import type { Injected, Req } from '../helpers/fake-api.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'

const TOKEN = 'hcloud-test-token-7f3a9c2e51d4b8a6'
const SERVER: Record<string, number> = { 'node-a': 101, 'node-b': 102 }
let lab: TestLab
let pool: SshPool
let api: FakeHcloud
let pair: Pair
let fip: FloatingIp
let VIP: string
let logs: string[]
let sleeps: number[]
/** Bumped by every setup(): failures a test injected but did not use never reach the next test. */
let generation = 0

test.before(async () => {
  api = await new FakeHcloud(TOKEN).addServer(101, 'node-a').addServer(102, 'node-b').start()
  lab = await startTestLab({
    mutate: (j) => {
      const p = j.pairs[0]
      p.nodes.forEach((n: any) => {
        n.hcloud = { serverId: SERVER[n.name] }
      })
      const f = p.floatingIps[0]
      f.driver = 'hcloud'
      delete f.prefix // a Hetzner floating IPv4 is a /32 on the server
      f.hcloud = { floatingIpId: 42, apiUrl: api.url }
    },
  })
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
  fip = pair.floatingIps![0]
  VIP = fip.address
  api.addFloatingIp(42, VIP, 101)
})
test.after(async () => {
  pool?.close()
  await lab?.down()
  await api?.close()
})

const node = (name: string) => pair.nodes.find((n) => n.name === name)!
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** What the node's kernel holds, asked on the node itself (not through the driver). */
async function holds(name: string): Promise<boolean> {
  const r = await lab.exec(name, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])
  assert.is(r.code, 0, r.stderr)
  return holdsAddress(r.stdout, VIP)
}
async function setKernel(name: string, held: boolean): Promise<void> {
  const r = await lab.exec(name, ['sh', '-c', held ? `ip addr replace ${VIP}/32 dev eth0` : `ip addr del ${VIP}/32 dev eth0 2>/dev/null; true`])
  assert.is(r.code, 0, r.stderr)
  assert.is(await holds(name), held)
}

/** Injected failures that only this test's requests can receive. */
function inject(...rs: Injected[]): void {
  const g = generation
  api.inject(...rs.map((r) => ({ ...r, when: (q: Req) => g === generation && (!r.when || r.when(q)) })))
}

/** Starting state of every test: Hetzner routes the address to node-a and only node-a's kernel holds it. */
const setup = async (env: Record<string, string> = { HCLOUD_TOKEN: TOKEN }, ssh: SshPool = pool) => {
  generation++
  api.requests.length = 0
  api.actions.clear()
  api.actionPolls = 2
  api.failActions = 0
  api.echoAuth = false
  api.rate.remaining = api.rate.limit
  api.floatingIps.get(42)!.server = 101
  await setKernel('node-a', true)
  await setKernel('node-b', false)
  logs = []
  sleeps = []
  const driver = new HcloudIpDriver(
    fip,
    { inv: lab.inv, pair, pool: ssh },
    {
      env,
      log: (l) => logs.push(l),
      clock: {
        now: () => Date.now(),
        sleep: async (ms) => {
          sleeps.push(ms)
        },
      },
    },
  )
  return { driver, a: node('node-a'), b: node('node-b') }
}

const posts = () => api.count('POST', /actions\/(assign|unassign)$/)

test('status: the API assignment says who holds it, and the kernels agree', async () => {
  const { driver } = await setup()
  assert.equal(await driver.status(), { 'node-a': 'held', 'node-b': 'free' })
  const p = await driver.probe()
  assert.ok(p.agrees, p.problems.join('; '))
  assert.is(p.holder, 101)
  assert.equal(p.os, { 'node-a': 'held', 'node-b': 'free' }, 'read from the real kernels')
})

test('start on the other node: assign, poll the action to success, move the kernel address', async () => {
  const { driver, b } = await setup()
  api.actionPolls = 3
  const r = await driver.start(b)
  assert.ok(r.changed)
  assert.is(api.floatingIps.get(42)!.server, 102)
  const assign = api.requests.find((q) => q.method === 'POST' && q.path === '/v1/floating_ips/42/actions/assign')
  assert.equal(assign?.body, { server: 102 })
  assert.is(api.count('GET', /^\/v1\/actions\/\d+$/), 3, 'polled until success')
  assert.ok(await holds('node-b'), 'new server kernel holds it')
  assert.not.ok(await holds('node-a'), 'old server kernel released it')
  assert.equal(await driver.status(), { 'node-a': 'free', 'node-b': 'held' })
  assert.ok((await driver.probe()).agrees)
})

test('double start: the second does nothing', async () => {
  const { driver, b } = await setup()
  await driver.start(b)
  const before = posts()
  const r = await driver.start(b)
  assert.not.ok(r.changed, r.detail)
  assert.is(posts(), before)
  assert.ok(await holds('node-b'))
  assert.not.ok(await holds('node-a'))
})

test('stop and double stop', async () => {
  const { driver, a } = await setup()
  const r1 = await driver.stop(a)
  assert.ok(r1.changed)
  assert.is(api.floatingIps.get(42)!.server, null)
  assert.not.ok(await holds('node-a'))
  const n = posts()
  const r2 = await driver.stop(a)
  assert.not.ok(r2.changed, r2.detail)
  assert.is(posts(), n)
  assert.not.ok(await holds('node-a'))
})

test('locked (423) and rate limited (429) are retried within bounds', async () => {
  const { driver, b } = await setup()
  const assign = (r: { method: string; path: string }) => r.method === 'POST' && r.path.endsWith('/assign')
  inject({ status: 423, body: api.errorBody('locked', 'floating ip is locked'), when: assign })
  inject({
    status: 429,
    body: api.errorBody('rate_limit_exceeded', 'limit'),
    headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 2) },
    when: assign,
  })
  await driver.start(b)
  assert.is(api.floatingIps.get(42)!.server, 102)
  assert.is(api.count('POST', /\/assign$/), 3)
  assert.ok(logs.some((l) => /423 locked/.test(l)) && logs.some((l) => /429/.test(l)), logs.join('\n'))
  assert.ok(sleeps.every((s) => s <= 30_000))
  assert.ok(await holds('node-b'))
  assert.not.ok(await holds('node-a'))
})

test('locked forever: gives up with a clear error, the address stays where it was', async () => {
  const { driver, b } = await setup()
  for (let i = 0; i < 20; i++) inject({ status: 423, body: api.errorBody('locked', 'locked'), when: (r) => r.method === 'POST' })
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  assert.instance(e, CloudApiError)
  assert.ok(e.locked && e.retriesExhausted, e.message)
  assert.is(api.floatingIps.get(42)!.server, 101)
  assert.ok(await holds('node-a'), 'the routed server keeps it in its kernel')
})

test('401 fails at once, before anything changed, and says where the token came from', async () => {
  const { driver, b } = await setup({ HCLOUD_TOKEN: 'wrong-token-123456' })
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  assert.instance(e, CloudApiError)
  assert.ok(e.unauthorized)
  assert.match(e.message, /token was rejected; check HCLOUD_TOKEN/)
  assert.is(api.requests.length, 1)
  assert.not.ok(await holds('node-b'), 'kernel untouched')
  assert.ok(await holds('node-a'), 'kernel untouched')
  assert.is(sleeps.length, 0)
})

test('an action that ends in error fails the start', async () => {
  const { driver, b } = await setup()
  api.failActions = 1
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  assert.ok(e instanceof CloudApiError && e.actionFailed, String(e))
  assert.match(e.message, /action \d+ failed: action_failed/)
  assert.is(api.floatingIps.get(42)!.server, 101)
  assert.ok(await holds('node-a'), 'the routed server keeps it in its kernel')
})

test('old node unreachable (fenced): start still moves the address', async () => {
  // A pool of its own: the shared one's live connection to node-a would hang instead of failing fast.
  const fresh = new SshPool(lab.inv)
  try {
    const { driver, b } = await setup(undefined, fresh)
    await labFault(lab.inv, 'isolate', 'node-a')
    const r = await driver.start(b)
    assert.is(api.floatingIps.get(42)!.server, 102)
    assert.match(r.detail, /node-a unreachable/)
    assert.ok(await holds('node-b'), 'the new server kernel holds it')
    assert.ok(await holds('node-a'), 'the cut-off kernel was never reached, so it still holds it')
  } finally {
    fresh.close()
    await labFault(lab.inv, 'heal', 'node-a')
  }
})

test('probe: a kernel holding an address routed elsewhere is a disagreement', async () => {
  const { driver } = await setup()
  await setKernel('node-b', true)
  const p = await driver.probe()
  assert.not.ok(p.agrees)
  assert.ok(
    p.problems.some((l) => /node-b: the kernel holds/.test(l)),
    p.problems.join('; '),
  )
  assert.equal(p.api, { 'node-a': 'held', 'node-b': 'free' }, 'the API stays the truth')
})

test('API down: status is unknown, not an exception', async () => {
  const { driver } = await setup()
  for (let i = 0; i < 10; i++) inject({ status: 503, body: api.errorBody('service_error', 'down') })
  assert.equal(await driver.status(), { 'node-a': 'unknown', 'node-b': 'unknown' })
})

test('validate: ids, token and address', async () => {
  const mk = (p: Pair, env: Record<string, string>) => new HcloudIpDriver(fip, { inv: lab.inv, pair: p, pool }, { env }).validate()
  assert.equal(mk(pair, { HCLOUD_TOKEN: TOKEN }), [])
  const noId = { ...pair, nodes: [pair.nodes[0], { ...pair.nodes[1], hcloud: undefined }] }
  assert.equal(mk(noId, { HCLOUD_TOKEN: TOKEN }), ['node node-b has no hcloud.serverId'])
  assert.match(mk(pair, {}).join(), /no API token: set HCLOUD_TOKEN/)
})

test('describe names the API calls and the kernel commands', async () => {
  const driver = new HcloudIpDriver(fip, { inv: lab.inv, pair, pool }, { env: { HCLOUD_TOKEN: TOKEN } })
  const lines = driver.describe('start', node('node-b')).join('\n')
  assert.match(lines, /POST \/floating_ips\/42\/actions\/assign \{"server": 102\}/)
  assert.match(lines, new RegExp(`ip addr add ${re(VIP)}/32 dev eth0`))
  assert.match(lines, new RegExp(`node-a: ip addr del ${re(VIP)}/32 dev eth0`))
})

test('the token never appears in any message, log or report, even when the API echoes it', async () => {
  const { driver, a, b } = await setup()
  api.echoAuth = true
  const echo = (r: { auth?: string }) => api.errorBody('service_error', `bad gateway for ${r.auth}`)
  inject({ status: 502, body: echo }, { status: 500, body: echo })
  const out: string[] = []
  out.push((await driver.start(b)).detail, (await driver.stop(a)).detail, JSON.stringify(await driver.probe()), ...driver.describe('start', a))
  for (let i = 0; i < 10; i++) inject({ status: 500, body: echo })
  const e = await driver.start(a).then(
    () => undefined,
    (x) => x,
  )
  out.push(e.message, String(e.stack), JSON.stringify(e), ...logs)
  const all = out.join('\n')
  assert.ok(/bad gateway for Bearer/.test(all), 'the echo reached the output, so this test can fail')
  assert.not.ok(all.includes(TOKEN), 'token leaked')
})

test.run()
