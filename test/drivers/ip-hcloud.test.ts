// The hcloud floating-IP driver against a loopback fake of the Hetzner API, with an in-memory
// stand-in for the nodes' kernels (the lab test covers real kernels).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HcloudIpDriver } from '../../lib/drivers/ip-hcloud.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { FakeNodes } from '../helpers/fake-nodes.ts'
import { cloudInventory } from '../helpers/cloud-inventory.ts'

const TOKEN = 'hcloud-test-token-7f3a9c2e51d4b8a6'
const VIP = '203.0.113.10'
let api: FakeHcloud
let nodes: FakeNodes
let logs: string[]
let sleeps: number[]

const setup = async (env: Record<string, string> = { HCLOUD_TOKEN: TOKEN }) => {
  api = await new FakeHcloud(TOKEN).addServer(101, 'node-a').addServer(102, 'node-b').addFloatingIp(42, VIP, 101).start()
  nodes = new FakeNodes()
  nodes.held.set('node-a', new Set([`${VIP}/32`]))
  logs = []
  sleeps = []
  const fx = cloudInventory('hcloud', api.url)
  const pair = fx.inv.data.pairs[0]
  const driver = new HcloudIpDriver(pair.floatingIps![0], fx.ctx(nodes.pool()), {
    env, log: (l) => logs.push(l), clock: { now: () => Date.now(), sleep: async (ms) => { sleeps.push(ms) } },
  })
  const node = (name: string) => pair.nodes.find((n) => n.name === name)!
  return { driver, a: node('node-a'), b: node('node-b'), pair }
}
test.after.each(async () => { await api?.close() })

const posts = () => api.count('POST', /actions\/(assign|unassign)$/)

test('status: the API assignment says who holds it, and the kernels agree', async () => {
  const { driver } = await setup()
  assert.equal(await driver.status(), { 'node-a': 'held', 'node-b': 'free' })
  const p = await driver.probe()
  assert.ok(p.agrees, p.problems.join('; '))
  assert.is(p.holder, 101)
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
  assert.ok(nodes.holds('node-b', VIP), 'new server kernel holds it')
  assert.not.ok(nodes.holds('node-a', VIP), 'old server kernel released it')
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
})

test('stop and double stop', async () => {
  const { driver, a } = await setup()
  const r1 = await driver.stop(a)
  assert.ok(r1.changed)
  assert.is(api.floatingIps.get(42)!.server, null)
  assert.not.ok(nodes.holds('node-a', VIP))
  const n = posts()
  const r2 = await driver.stop(a)
  assert.not.ok(r2.changed, r2.detail)
  assert.is(posts(), n)
})

test('locked (423) and rate limited (429) are retried within bounds', async () => {
  const { driver, b } = await setup()
  const assign = (r: { method: string; path: string }) => r.method === 'POST' && r.path.endsWith('/assign')
  api.inject({ status: 423, body: api.errorBody('locked', 'floating ip is locked'), when: assign })
  api.inject({ status: 429, body: api.errorBody('rate_limit_exceeded', 'limit'), headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 2) }, when: assign })
  await driver.start(b)
  assert.is(api.floatingIps.get(42)!.server, 102)
  assert.is(api.count('POST', /\/assign$/), 3)
  assert.ok(logs.some((l) => /423 locked/.test(l)) && logs.some((l) => /429/.test(l)), logs.join('\n'))
  assert.ok(sleeps.every((s) => s <= 30_000))
})

test('locked forever: gives up with a clear error, the address stays where it was', async () => {
  const { driver, b } = await setup()
  for (let i = 0; i < 20; i++) api.inject({ status: 423, body: api.errorBody('locked', 'locked'), when: (r) => r.method === 'POST' })
  const e = await driver.start(b).then(() => undefined, (x) => x)
  assert.instance(e, CloudApiError)
  assert.ok(e.locked && e.retriesExhausted, e.message)
  assert.is(api.floatingIps.get(42)!.server, 101)
})

test('401 fails at once, before anything changed, and says where the token came from', async () => {
  const { driver, b } = await setup({ HCLOUD_TOKEN: 'wrong-token-123456' })
  const e = await driver.start(b).then(() => undefined, (x) => x)
  assert.instance(e, CloudApiError)
  assert.ok(e.unauthorized)
  assert.match(e.message, /token was rejected; check HCLOUD_TOKEN/)
  assert.is(api.requests.length, 1)
  assert.not.ok(nodes.holds('node-b', VIP), 'kernel untouched')
  assert.is(sleeps.length, 0)
})

test('an action that ends in error fails the start', async () => {
  const { driver, b } = await setup()
  api.failActions = 1
  const e = await driver.start(b).then(() => undefined, (x) => x)
  assert.ok(e instanceof CloudApiError && e.actionFailed, String(e))
  assert.match(e.message, /action \d+ failed: action_failed/)
  assert.is(api.floatingIps.get(42)!.server, 101)
})

test('old node unreachable (fenced): start still moves the address', async () => {
  const { driver, b } = await setup()
  nodes.unreachable.add('node-a')
  const r = await driver.start(b)
  assert.is(api.floatingIps.get(42)!.server, 102)
  assert.match(r.detail, /node-a unreachable/)
})

test('probe: a kernel holding an address routed elsewhere is a disagreement', async () => {
  const { driver } = await setup()
  nodes.held.set('node-b', new Set([`${VIP}/32`]))
  const p = await driver.probe()
  assert.not.ok(p.agrees)
  assert.ok(p.problems.some((l) => /node-b: the kernel holds/.test(l)), p.problems.join('; '))
  assert.equal(p.api, { 'node-a': 'held', 'node-b': 'free' }, 'the API stays the truth')
})

test('API down: status is unknown, not an exception', async () => {
  const { driver } = await setup()
  for (let i = 0; i < 10; i++) api.inject({ status: 503, body: api.errorBody('service_error', 'down') })
  assert.equal(await driver.status(), { 'node-a': 'unknown', 'node-b': 'unknown' })
})

test('validate: ids, token and address', async () => {
  const { pair } = await setup()
  const fip = pair.floatingIps![0]
  const mk = (p: typeof pair, env: Record<string, string>) => new HcloudIpDriver(fip, { inv: {} as never, pair: p, pool: nodes.pool() }, { env }).validate()
  assert.equal(mk(pair, { HCLOUD_TOKEN: TOKEN }), [])
  const noId = { ...pair, nodes: [pair.nodes[0], { ...pair.nodes[1], hcloud: undefined }] }
  assert.equal(mk(noId, { HCLOUD_TOKEN: TOKEN }), ['node node-b has no hcloud.serverId'])
  assert.match(mk(pair, {}).join(), /no API token: set HCLOUD_TOKEN/)
})

test('describe names the API calls and the kernel commands', async () => {
  const { driver, b } = await setup()
  const lines = driver.describe('start', b).join('\n')
  assert.match(lines, /POST \/floating_ips\/42\/actions\/assign \{"server": 102\}/)
  assert.match(lines, /ip addr add 203\.0\.113\.10\/32 dev eth0/)
  assert.match(lines, /node-a: ip addr del 203\.0\.113\.10\/32 dev eth0/)
})

test('the token never appears in any message, log or report, even when the API echoes it', async () => {
  const { driver, a, b } = await setup()
  api.echoAuth = true
  const echo = (r: { auth?: string }) => api.errorBody('service_error', `bad gateway for ${r.auth}`)
  api.inject({ status: 502, body: echo }, { status: 500, body: echo })
  const out: string[] = []
  out.push((await driver.start(b)).detail, (await driver.stop(a)).detail, JSON.stringify(await driver.probe()), ...driver.describe('start', a))
  for (let i = 0; i < 10; i++) api.inject({ status: 500, body: echo })
  const e = await driver.start(a).then(() => undefined, (x) => x)
  out.push(e.message, String(e.stack), JSON.stringify(e), ...logs)
  const all = out.join('\n')
  assert.ok(/bad gateway for Bearer/.test(all), 'the echo reached the output, so this test can fail')
  assert.not.ok(all.includes(TOKEN), 'token leaked')
})

test.run()
