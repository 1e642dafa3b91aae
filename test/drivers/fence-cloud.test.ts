// Fencing (power off) through the hcloud and DigitalOcean APIs, one table for both providers.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HcloudFenceDriver } from '../../lib/drivers/fence-hcloud.ts'
import { DigitalOceanFenceDriver } from '../../lib/drivers/fence-digitalocean.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import type { FenceDriver } from '../../lib/drivers/types.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { FakeDigitalOcean } from '../helpers/fake-digitalocean.ts'
import { FakeNodes } from '../helpers/fake-nodes.ts'
import { cloudInventory } from '../helpers/cloud-inventory.ts'
import type { FakeApi } from '../helpers/fake-api.ts'

const TOKEN = 'fence-token-5a7b9c1d3e5f7a9b'
const instant = { now: () => Date.now(), sleep: async () => {} }

interface Provider {
  name: 'hcloud' | 'digitalocean'
  env: string
  start(): Promise<FakeApi & { power(id: number): string; setPower(id: number, on: boolean): void }>
  driver(ctx: ReturnType<ReturnType<typeof cloudInventory>['ctx']>, env: Record<string, string>): FenceDriver
  offPath: RegExp
  offBody?: unknown
}

const providers: Provider[] = [
  {
    name: 'hcloud', env: 'HCLOUD_TOKEN', offPath: /^\/v1\/servers\/102\/actions\/poweroff$/,
    start: async () => {
      const f = await new FakeHcloud(TOKEN).addServer(101, 'node-a').addServer(102, 'node-b').start()
      return Object.assign(f, { power: (id: number) => f.servers.get(id)!.status, setPower: (id: number, on: boolean) => { f.servers.get(id)!.status = on ? 'running' : 'off' } })
    },
    driver: (ctx, env) => new HcloudFenceDriver(ctx, { env, clock: instant, log: () => {} }),
  },
  {
    name: 'digitalocean', env: 'DIGITALOCEAN_TOKEN', offPath: /^\/v2\/droplets\/102\/actions$/, offBody: { type: 'power_off' },
    start: async () => {
      const f = await new FakeDigitalOcean(TOKEN).addDroplet(101, 'node-a').addDroplet(102, 'node-b').start()
      return Object.assign(f, { power: (id: number) => f.droplets.get(id)!.status, setPower: (id: number, on: boolean) => { f.droplets.get(id)!.status = on ? 'active' : 'off' } })
    },
    driver: (ctx, env) => new DigitalOceanFenceDriver(ctx, { env, clock: instant, log: () => {} }),
  },
]

for (const p of providers) {
  const setup = async (env: Record<string, string> = { [p.env]: TOKEN }) => {
    const api = await p.start()
    const fx = cloudInventory(p.name, api.url)
    const driver = p.driver(fx.ctx(new FakeNodes().pool()), env)
    return { api, driver, b: fx.inv.data.pairs[0].nodes[1] }
  }

  test(`${p.name}: stop powers off, polls the action, reads "off" back; double stop does nothing`, async () => {
    const { api, driver, b } = await setup()
    try {
      assert.is(await driver.status(b), 'on')
      api.actionPolls = 2
      const r = await driver.stop(b)
      assert.ok(r.changed, r.detail)
      const post = api.requests.find((q) => q.method === 'POST')!
      assert.match(post.path, p.offPath)
      if (p.offBody) assert.equal(post.body, p.offBody)
      assert.is(await driver.status(b), 'off')
      const again = await driver.stop(b)
      assert.not.ok(again.changed)
      assert.is(api.count('POST', /./), 1)
    } finally { await api.close() }
  })

  test(`${p.name}: start powers on again; double start does nothing`, async () => {
    const { api, driver, b } = await setup()
    try {
      api.setPower(102, false)
      assert.ok((await driver.start(b)).changed)
      assert.is(await driver.status(b), 'on')
      assert.not.ok((await driver.start(b)).changed)
    } finally { await api.close() }
  })

  test(`${p.name}: a busy server and a rate limit are retried; 401 fails at once`, async () => {
    const { api, driver, b } = await setup()
    try {
      const busy = p.name === 'hcloud' ? { status: 423, body: api.errorBody('locked', 'server is locked') } : { status: 422, body: api.errorBody('unprocessable_entity', 'Droplet already has a pending event.') }
      api.inject({ ...busy, when: (r) => r.method === 'POST' })
      api.rateLimit(1, 1)
      await driver.stop(b)
      assert.is(api.power(102), 'off')
    } finally { await api.close() }
    const bad = await setup({ [p.env]: 'not-the-token' })
    try {
      const e = await bad.driver.stop(bad.b).then(() => undefined, (x) => x)
      assert.ok(e instanceof CloudApiError && e.unauthorized, String(e))
      assert.is(bad.api.requests.length, 1)
      assert.is(bad.api.power(102), p.name === 'hcloud' ? 'running' : 'active')
    } finally { await bad.api.close() }
  })

  test(`${p.name}: API down: status unknown (never "off": that would let a failover start a second writer)`, async () => {
    const { api, driver, b } = await setup()
    try {
      for (let i = 0; i < 10; i++) api.inject({ status: 503, body: api.errorBody('service_error', 'down') })
      assert.is(await driver.status(b), 'unknown')
    } finally { await api.close() }
  })

  test(`${p.name}: validate and describe`, async () => {
    const { api, driver, b } = await setup()
    try {
      assert.equal(driver.validate(), [])
      assert.match(driver.describe('stop', b).join(), p.name === 'hcloud' ? /POST \/servers\/102\/actions\/poweroff/ : /POST \/droplets\/102\/actions \{"type":"power_off"\}/)
      assert.match(p.driver((driver as any).ctx, {}).validate().join(), new RegExp(`no API token: set ${p.env}`))
    } finally { await api.close() }
  })
}

test.run()
