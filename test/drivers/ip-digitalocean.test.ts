// The DigitalOcean reserved-IP driver against a loopback fake of the DigitalOcean API.
// DigitalOcean NATs a reserved IP to the droplet's anchor address, so no node is touched.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DigitalOceanIpDriver } from '../../lib/drivers/ip-digitalocean.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import { FakeDigitalOcean } from '../helpers/fake-digitalocean.ts'
import { FakeNodes } from '../helpers/fake-nodes.ts'
import { cloudInventory } from '../helpers/cloud-inventory.ts'

const TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef'
const VIP = '203.0.113.10'
let api: FakeDigitalOcean
let nodes: FakeNodes
let logs: string[]

const setup = async (opts: { env?: Record<string, string>; tokenFile?: string; dir?: string } = {}) => {
  api = await new FakeDigitalOcean(TOKEN).addDroplet(101, 'node-a').addDroplet(102, 'node-b').addReservedIp(VIP, 101).start()
  nodes = new FakeNodes()
  logs = []
  const fx = cloudInventory('digitalocean', api.url, { dir: opts.dir, tokenFile: opts.tokenFile })
  const pair = fx.inv.data.pairs[0]
  const driver = new DigitalOceanIpDriver(pair.floatingIps![0], fx.ctx(nodes.pool()), {
    env: opts.env ?? { DIGITALOCEAN_TOKEN: TOKEN }, log: (l) => logs.push(l), clock: { now: () => Date.now(), sleep: async () => {} },
  })
  return { driver, a: pair.nodes[0], b: pair.nodes[1] }
}
test.after.each(async () => { await api?.close() })

test('status from the reserved IP\'s droplet', async () => {
  const { driver } = await setup()
  assert.equal(await driver.status(), { 'node-a': 'held', 'node-b': 'free' })
  assert.ok((await driver.probe()).agrees)
})

test('start: POST {"type":"assign","droplet_id":N}, poll the action until completed; no node touched', async () => {
  const { driver, b } = await setup()
  api.actionPolls = 2
  const r = await driver.start(b)
  assert.ok(r.changed)
  const post = api.requests.find((q) => q.method === 'POST')
  assert.is(post?.path, `/v2/reserved_ips/${VIP}/actions`)
  assert.equal(post?.body, { type: 'assign', droplet_id: 102 })
  assert.is(api.count('GET', /\/actions\/\d+$/), 2)
  assert.is(api.reservedIps.get(VIP)!.droplet, 102)
  assert.is(nodes.commands.length, 0, 'no SSH command: the kernel does not hold a reserved IP')
  const again = await driver.start(b)
  assert.not.ok(again.changed, 'double start')
  assert.is(api.count('POST', /actions$/), 1)
})

test('stop and double stop', async () => {
  const { driver, a } = await setup()
  assert.ok((await driver.stop(a)).changed)
  assert.equal(api.requests.find((q) => q.method === 'POST')?.body, { type: 'unassign' })
  assert.is(api.reservedIps.get(VIP)!.droplet, null)
  assert.not.ok((await driver.stop(a)).changed)
  assert.is(api.count('POST', /actions$/), 1)
})

test('"pending event" (422) and 429 are retried within bounds', async () => {
  const { driver, b } = await setup()
  const post = (r: { method: string }) => r.method === 'POST'
  api.inject({ status: 422, body: api.errorBody('unprocessable_entity', 'Reserved IP already has a pending event.'), when: post })
  api.rateLimit(2, 1)
  await driver.start(b)
  assert.is(api.reservedIps.get(VIP)!.droplet, 102)
  assert.ok(logs.some((l) => /422 unprocessable_entity/.test(l)) && logs.filter((l) => /429 too_many_requests/.test(l)).length === 2, logs.join('\n'))
})

test('"pending event" for ever: gives up, flagged locked', async () => {
  const { driver, b } = await setup()
  for (let i = 0; i < 10; i++) api.inject({ status: 422, body: api.errorBody('unprocessable_entity', 'Reserved IP already has a pending event.'), when: (r) => r.method === 'POST' })
  const e = await driver.start(b).then(() => undefined, (x) => x)
  assert.ok(e instanceof CloudApiError && e.locked && e.retriesExhausted && e.transient, String(e))
  assert.is(api.count('POST', /actions$/), 6, 'bounded: the default 6 attempts')
  assert.is(api.reservedIps.get(VIP)!.droplet, 101)
})

test('another 422 (a real input error) is not retried', async () => {
  const { driver, b } = await setup()
  api.inject({ status: 422, body: api.errorBody('unprocessable_entity', 'Droplet_id is invalid'), when: (r) => r.method === 'POST' })
  const e = await driver.start(b).then(() => undefined, (x) => x)
  assert.ok(e instanceof CloudApiError && e.status === 422 && !e.retriesExhausted, String(e))
  assert.is(api.count('POST', /actions$/), 1)
})

test('401 fails at once with a clear message', async () => {
  const { driver, b } = await setup({ env: { DIGITALOCEAN_TOKEN: 'dop_v1_wrong' } })
  const e = await driver.start(b).then(() => undefined, (x) => x)
  assert.ok(e instanceof CloudApiError && e.unauthorized)
  assert.match(e.message, /digitalocean API GET \/reserved_ips\/203\.0\.113\.10: 401 unauthorized: the API token was rejected; check DIGITALOCEAN_TOKEN/)
  assert.is(api.requests.length, 1)
})

test('token from a file next to the inventory; never in output even when echoed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hapair-do-'))
  writeFileSync(path.join(dir, 'do.token'), TOKEN + '\n', { mode: 0o600 })
  const { driver, b } = await setup({ env: {}, tokenFile: 'do.token', dir })
  api.echoAuth = true
  for (let i = 0; i < 10; i++) api.inject({ status: 500, body: (r: { auth?: string }) => api.errorBody('server_error', `oops ${r.auth}`) })
  const e = await driver.start(b).then(() => undefined, (x) => x)
  const all = [e.message, String(e.stack), JSON.stringify(e), ...logs].join('\n')
  assert.match(all, /oops Bearer/, 'the echo reached the output, so this test can fail')
  assert.match(all, new RegExp(`tokenFile ${dir}/do.token|500`))
  assert.not.ok(all.includes(TOKEN), 'token leaked')
})

test('validate refuses an IPv6 reserved IP and missing droplet ids', async () => {
  const { driver } = await setup()
  assert.equal(driver.validate(), [])
  const v6 = new DigitalOceanIpDriver({ address: '2001:db8::10', driver: 'digitalocean' }, (driver as any).ctx, { env: { DIGITALOCEAN_TOKEN: TOKEN } })
  assert.match(v6.validate().join(), /IPv6/)
})

test.run()
