// The DigitalOcean reserved-IP driver on a real lab pair, the DigitalOcean API being the loopback
// fake. DigitalOcean NATs a reserved IP to the droplet's anchor address, so no node is touched:
// that is checked on the real nodes (no SSH connection reached them, no kernel holds the address).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { DigitalOceanIpDriver } from '../../lib/drivers/ip-digitalocean.ts'
import { holdsAddress } from '../../lib/drivers/ip-linux.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import type { DriverContext } from '../../lib/drivers/types.ts'
import type { FloatingIp, Pair } from '../../lib/inventory/schema.ts'
import { SshPool } from '../../lib/ssh.ts'
import { FakeDigitalOcean } from '../helpers/fake-digitalocean.ts'
import type { Injected, Req } from '../helpers/fake-api.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'

const TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef'
const DROPLET: Record<string, number> = { 'node-a': 101, 'node-b': 102 }
let lab: TestLab
let pool: SshPool
let api: FakeDigitalOcean
let pair: Pair
let fip: FloatingIp
let ctx: DriverContext
let VIP: string
let logs: string[]
/** Bumped by every setup(): failures a test injected but did not use never reach the next test. */
let generation = 0

test.before(async () => {
  api = await new FakeDigitalOcean(TOKEN).addDroplet(101, 'node-a').addDroplet(102, 'node-b').start()
  lab = await startTestLab({
    mutate: (j) => {
      const p = j.pairs[0]
      p.nodes.forEach((n: any) => {
        n.digitalocean = { dropletId: DROPLET[n.name] }
      })
      const f = p.floatingIps[0]
      f.driver = 'digitalocean'
      delete f.prefix
      f.digitalocean = { apiUrl: api.url }
    },
  })
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
  fip = pair.floatingIps![0]
  ctx = { inv: lab.inv, pair, pool }
  VIP = fip.address
  api.addReservedIp(VIP, 101)
})
test.after(async () => {
  pool?.close()
  await lab?.down()
  await api?.close()
})

function inject(...rs: Injected[]): void {
  const g = generation
  api.inject(...rs.map((r) => ({ ...r, when: (q: Req) => g === generation && (!r.when || r.when(q)) })))
}

/** Starting state of every test: the reserved IP is assigned to node-a's droplet. */
const setup = (opts: { env?: Record<string, string>; fip?: FloatingIp } = {}) => {
  generation++
  api.requests.length = 0
  api.actions.clear()
  api.actionPolls = 2
  api.failActions = 0
  api.echoAuth = false
  api.rate.remaining = api.rate.limit
  api.reservedIps.get(VIP)!.droplet = 101
  logs = []
  const driver = new DigitalOceanIpDriver(opts.fip ?? fip, ctx, {
    env: opts.env ?? { DIGITALOCEAN_TOKEN: TOKEN },
    log: (l) => logs.push(l),
    clock: { now: () => Date.now(), sleep: async () => {} },
  })
  return { driver, a: pair.nodes[0], b: pair.nodes[1] }
}

/** What a node shows of the driver, asked on the node itself: SSH sessions from the controller and the address. */
async function nodeSide(name: string): Promise<{ sshSessions: number; holds: boolean }> {
  const ss = await lab.exec(name, ['ss', '-Htn', 'state', 'established', '( sport = :22 )'])
  assert.is(ss.code, 0, ss.stderr)
  const ip = await lab.exec(name, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])
  assert.is(ip.code, 0, ip.stderr)
  return { sshSessions: ss.stdout.trim().split('\n').filter(Boolean).length, holds: holdsAddress(ip.stdout, VIP) }
}

test("status from the reserved IP's droplet", async () => {
  const { driver } = setup()
  assert.equal(await driver.status(), { 'node-a': 'held', 'node-b': 'free' })
  const p = await driver.probe()
  assert.ok(p.agrees)
  assert.is(p.os, undefined, 'no kernel to ask')
})

test('start: POST {"type":"assign","droplet_id":N}, poll the action until completed; no node touched', async () => {
  const { driver, b } = setup()
  api.actionPolls = 2
  const r = await driver.start(b)
  assert.ok(r.changed)
  const post = api.requests.find((q) => q.method === 'POST')
  assert.is(post?.path, `/v2/reserved_ips/${VIP}/actions`)
  assert.equal(post?.body, { type: 'assign', droplet_id: 102 })
  assert.is(api.count('GET', /\/actions\/\d+$/), 2)
  assert.is(api.reservedIps.get(VIP)!.droplet, 102)
  const again = await driver.start(b)
  assert.not.ok(again.changed, 'double start')
  assert.is(api.count('POST', /actions$/), 1)
  // The pool keeps every connection it opens, so one SSH command would still show here.
  for (const n of ['node-a', 'node-b']) {
    assert.equal(await nodeSide(n), { sshSessions: 0, holds: false }, `${n}: no SSH session, and the kernel does not hold a reserved IP`)
  }
})

test('stop and double stop', async () => {
  const { driver, a } = setup()
  assert.ok((await driver.stop(a)).changed)
  assert.equal(api.requests.find((q) => q.method === 'POST')?.body, { type: 'unassign' })
  assert.is(api.reservedIps.get(VIP)!.droplet, null)
  assert.not.ok((await driver.stop(a)).changed)
  assert.is(api.count('POST', /actions$/), 1)
  assert.equal(await nodeSide('node-a'), { sshSessions: 0, holds: false })
})

test('"pending event" (422) and 429 are retried within bounds', async () => {
  const { driver, b } = setup()
  const post = (r: { method: string }) => r.method === 'POST'
  inject({ status: 422, body: api.errorBody('unprocessable_entity', 'Reserved IP already has a pending event.'), when: post })
  api.rateLimit(2, 1)
  await driver.start(b)
  assert.is(api.reservedIps.get(VIP)!.droplet, 102)
  assert.ok(logs.some((l) => /422 unprocessable_entity/.test(l)) && logs.filter((l) => /429 too_many_requests/.test(l)).length === 2, logs.join('\n'))
})

test('"pending event" for ever: gives up, flagged locked', async () => {
  const { driver, b } = setup()
  for (let i = 0; i < 10; i++)
    inject({ status: 422, body: api.errorBody('unprocessable_entity', 'Reserved IP already has a pending event.'), when: (r) => r.method === 'POST' })
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  assert.ok(e instanceof CloudApiError && e.locked && e.retriesExhausted && e.transient, String(e))
  assert.is(api.count('POST', /actions$/), 6, 'bounded: the default 6 attempts')
  assert.is(api.reservedIps.get(VIP)!.droplet, 101)
})

test('another 422 (a real input error) is not retried', async () => {
  const { driver, b } = setup()
  inject({ status: 422, body: api.errorBody('unprocessable_entity', 'Droplet_id is invalid'), when: (r) => r.method === 'POST' })
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  assert.ok(e instanceof CloudApiError && e.status === 422 && !e.retriesExhausted, String(e))
  assert.is(api.count('POST', /actions$/), 1)
})

test('401 fails at once with a clear message', async () => {
  const { driver, b } = setup({ env: { DIGITALOCEAN_TOKEN: 'dop_v1_wrong' } })
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  assert.ok(e instanceof CloudApiError && e.unauthorized)
  assert.match(
    e.message,
    new RegExp(`digitalocean API GET /reserved_ips/${VIP.replace(/\./g, '\\.')}: 401 unauthorized: the API token was rejected; check DIGITALOCEAN_TOKEN`),
  )
  assert.is(api.requests.length, 1)
})

test('token from a file next to the inventory; never in output even when echoed', async () => {
  const dir = lab.inv.dir
  writeFileSync(path.join(dir, 'do.token'), TOKEN + '\n', { mode: 0o600 })
  const { driver, b } = setup({ env: {}, fip: { ...fip, digitalocean: { ...fip.digitalocean, tokenFile: 'do.token' } } })
  api.echoAuth = true
  for (let i = 0; i < 10; i++) inject({ status: 500, body: (r: { auth?: string }) => api.errorBody('server_error', `oops ${r.auth}`) })
  const e = await driver.start(b).then(
    () => undefined,
    (x) => x,
  )
  const all = [e.message, String(e.stack), JSON.stringify(e), ...logs].join('\n')
  assert.match(all, /oops Bearer/, 'the echo reached the output, so this test can fail')
  assert.match(all, new RegExp(`tokenFile ${dir}/do.token|500`))
  assert.not.ok(all.includes(TOKEN), 'token leaked')
})

test('validate refuses an IPv6 reserved IP and missing droplet ids', async () => {
  const { driver } = setup()
  assert.equal(driver.validate(), [])
  const v6 = new DigitalOceanIpDriver({ address: '2001:db8::10', driver: 'digitalocean' }, ctx, { env: { DIGITALOCEAN_TOKEN: TOKEN } })
  assert.match(v6.validate().join(), /IPv6/)
  const noId = { ...pair, nodes: [pair.nodes[0], { ...pair.nodes[1], digitalocean: undefined }] }
  assert.equal(new DigitalOceanIpDriver(fip, { ...ctx, pair: noId }, { env: { DIGITALOCEAN_TOKEN: TOKEN } }).validate(), [
    'node node-b has no digitalocean.dropletId',
  ])
})

test.run()
