// Fencing (power off) through the hcloud and DigitalOcean APIs, one table for both providers,
// on one real lab pair. The APIs are the loopback fakes; their power actions switch the lab
// node for real (power-off kills node-b, power-on boots it), as the provider's would, so "the
// API says off" is checked against a node that really stopped, and "on" against one that answers SSH.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HcloudFenceDriver } from '../../lib/drivers/fence-hcloud.ts'
import { DigitalOceanFenceDriver } from '../../lib/drivers/fence-digitalocean.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import type { Clock } from '../../lib/cloud/http.ts'
import type { DriverContext, FenceDriver } from '../../lib/drivers/types.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { labFault, labPowerState } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { FakeDigitalOcean } from '../helpers/fake-digitalocean.ts'
import type { FakeApi, Injected, Req } from '../helpers/fake-api.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'

const TOKEN = 'fence-token-5a7b9c1d3e5f7a9b'
const ID: Record<string, number> = { 'node-a': 101, 'node-b': 102 }
const nodeOf = (resource: string) => Object.keys(ID).find((n) => ID[n] === Number(resource.split('/')[1]))!
// Sleeps for real (the power actions wait on the lab) but briefly: retry and poll bounds are
// counted in time slept, so a 1 s rate-limit wait still counts as 1 s.
const quick: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))) }
const poll = { intervalMs: 50, maxIntervalMs: 50 }

let lab: TestLab
let pool: SshPool
let pair: Pair
/** Bumped by every setup(): failures a test injected but did not use never reach the next test. */
let generation = 0

// The fakes already kill the node inside a power-off action (onPowerOff); power-on boots it the same way.
type Effect = () => void | Promise<void>
const bootsLabNode = (kind: string, resource: string, effect: Effect): Effect =>
  kind === 'start_server' || kind === 'power_on'
    ? async () => {
        await labFault(lab.inv, 'start', nodeOf(resource))
        await effect()
      }
    : effect
class LabHcloud extends FakeHcloud {
  protected override startAction(kind: string, resource: string, effect: Effect) {
    return super.startAction(kind, resource, bootsLabNode(kind, resource, effect))
  }
}
class LabDigitalOcean extends FakeDigitalOcean {
  protected override startAction(kind: string, resource: string, effect: Effect) {
    return super.startAction(kind, resource, bootsLabNode(kind, resource, effect))
  }
}

type Api = FakeApi & { power(id: number): string; setPower(id: number, on: boolean): void }
interface Provider {
  name: 'hcloud' | 'digitalocean'
  env: string
  api?: Api
  start(): Promise<Api>
  driver(ctx: DriverContext, env: Record<string, string>, log?: (line: string) => void): FenceDriver
  offPath: RegExp
  offBody?: unknown
}

const providers: Provider[] = [
  {
    name: 'hcloud',
    env: 'HCLOUD_TOKEN',
    offPath: /^\/v1\/servers\/102\/actions\/poweroff$/,
    start: async () => {
      const f = await new LabHcloud(TOKEN).addServer(101, 'node-a').addServer(102, 'node-b').start()
      f.onPowerOff = async (id) => {
        await labFault(lab.inv, 'kill', nodeOf(`server/${id}`))
      }
      return Object.assign(f, {
        power: (id: number) => f.servers.get(id)!.status,
        setPower: (id: number, on: boolean) => {
          f.servers.get(id)!.status = on ? 'running' : 'off'
        },
      })
    },
    driver: (ctx, env, log = () => {}) => new HcloudFenceDriver(ctx, { env, clock: quick, poll, log }),
  },
  {
    name: 'digitalocean',
    env: 'DIGITALOCEAN_TOKEN',
    offPath: /^\/v2\/droplets\/102\/actions$/,
    offBody: { type: 'power_off' },
    start: async () => {
      const f = await new LabDigitalOcean(TOKEN).addDroplet(101, 'node-a').addDroplet(102, 'node-b').start()
      f.onPowerOff = async (id) => {
        await labFault(lab.inv, 'kill', nodeOf(`droplet/${id}`))
      }
      return Object.assign(f, {
        power: (id: number) => f.droplets.get(id)!.status,
        setPower: (id: number, on: boolean) => {
          f.droplets.get(id)!.status = on ? 'active' : 'off'
        },
      })
    },
    driver: (ctx, env, log = () => {}) => new DigitalOceanFenceDriver(ctx, { env, clock: quick, poll, log }),
  },
]

test.before(async () => {
  for (const p of providers) p.api = await p.start()
  lab = await startTestLab({
    mutate: (j) => {
      j.pairs[0].nodes.forEach((n: any) => {
        n.hcloud = { serverId: ID[n.name] }
        n.digitalocean = { dropletId: ID[n.name] }
      })
    },
  })
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
})
test.after(async () => {
  pool?.close()
  await lab?.down()
  for (const p of providers) await p.api?.close()
})

/** Whether the node answers a command over SSH (a pool of its own: a killed node leaves dead connections behind). */
async function answers(node: string): Promise<boolean> {
  const fresh = new SshPool(lab.inv)
  try {
    return (await fresh.session(pair, node).run(['true'])).code === 0
  } catch {
    return false
  } finally {
    fresh.close()
  }
}

for (const p of providers) {
  /** Starting state of every test: both servers on, in the API and in the lab. */
  const setup = async (env: Record<string, string> = { [p.env]: TOKEN }) => {
    const api = p.api!
    generation++
    api.requests.length = 0
    api.actions.clear()
    api.actionPolls = 2
    api.failActions = 0
    api.echoAuth = false
    api.rate.remaining = api.rate.limit
    for (const id of Object.values(ID)) api.setPower(id, true)
    for (const n of Object.keys(ID)) if (labPowerState(lab.inv, n) === 'off') await labFault(lab.inv, 'start', n)
    // An inventory names one fencing driver; one lab serves both providers, so each gets the pair with its own block.
    const ctx: DriverContext = { inv: lab.inv, pair: { ...pair, fencing: { driver: p.name, [p.name]: { apiUrl: api.url } } }, pool }
    const g = generation
    const inject = (...rs: Injected[]) => api.inject(...rs.map((r) => ({ ...r, when: (q: Req) => g === generation && (!r.when || r.when(q)) })))
    const notes: string[] = []
    return { api, ctx, inject, notes, driver: p.driver(ctx, env, (l) => notes.push(l)), b: ctx.pair.nodes[1] }
  }

  test(`${p.name}: stop powers off, polls the action, reads "off" back; double stop does nothing`, async () => {
    const { api, driver, b } = await setup()
    assert.is(await driver.status(b), 'on')
    api.actionPolls = 2
    const r = await driver.stop(b)
    assert.ok(r.changed, r.detail)
    const post = api.requests.find((q) => q.method === 'POST')!
    assert.match(post.path, p.offPath)
    if (p.offBody) assert.equal(post.body, p.offBody)
    assert.is(await driver.status(b), 'off')
    assert.is(labPowerState(lab.inv, 'node-b'), 'off', 'when stop returns, the node really is off')
    assert.is(labPowerState(lab.inv, 'node-a'), 'on', 'and only that node')
    const again = await driver.stop(b)
    assert.not.ok(again.changed)
    assert.is(api.count('POST', /./), 1)
  })

  test(`${p.name}: start powers on again; double start does nothing`, async () => {
    const { api, driver, b } = await setup()
    api.setPower(102, false)
    await labFault(lab.inv, 'kill', 'node-b')
    assert.ok((await driver.start(b)).changed)
    assert.is(await driver.status(b), 'on')
    assert.is(labPowerState(lab.inv, 'node-b'), 'on')
    assert.ok(await answers('node-b'), 'node-b answers SSH once start returns')
    assert.not.ok((await driver.start(b)).changed)
    assert.is(api.count('POST', /./), 1)
  })

  test(`${p.name}: a busy server and a rate limit are retried; 401 fails at once`, async () => {
    const { api, driver, b, inject, notes } = await setup()
    // Each injected answer says when it is served: an injection that never matched proves nothing.
    const served: string[] = []
    const busyStatus = p.name === 'hcloud' ? 423 : 422
    const busyBody =
      p.name === 'hcloud' ? api.errorBody('locked', 'server is locked') : api.errorBody('unprocessable_entity', 'Droplet already has a pending event.')
    const limitBody = api.errorBody('rate_limit_exceeded', 'API rate limit exceeded')
    const serve = (what: string, body: unknown) => (r: Req) => {
      served.push(`${what} ${r.method} ${r.path}`)
      return body
    }
    inject({ status: busyStatus, when: (r) => r.method === 'POST' && p.offPath.test(r.path), body: serve('busy', busyBody) })
    const reset = String(Math.floor(Date.now() / 1000) + 1)
    inject({ status: 429, headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': reset }, body: serve('429', limitBody) })
    await driver.stop(b)
    assert.is(served.length, 2, `both injected answers were served: ${served.join(', ')}`)
    assert.ok(
      served.some((x) => x.startsWith('busy POST')),
      served.join(', '),
    )
    assert.is(api.count('POST', p.offPath), 2, 'the power-off the busy answer refused was sent again')
    assert.ok(
      notes.some((l) => l.includes(`${busyStatus}`) && /retry 2\//.test(l)),
      `the busy answer was retried: ${notes.join(' | ')}`,
    )
    assert.ok(
      notes.some((l) => l.includes('429') && /retry 2\/\d+ in \d{3,} ms/.test(l)),
      `the rate limit waited for its reset: ${notes.join(' | ')}`,
    )
    assert.is(api.power(102), 'off')
    assert.is(labPowerState(lab.inv, 'node-b'), 'off')
    const bad = await setup({ [p.env]: 'not-the-token' })
    const e = await bad.driver.stop(bad.b).then(
      () => undefined,
      (x) => x,
    )
    assert.ok(e instanceof CloudApiError && e.unauthorized, String(e))
    assert.is(bad.api.requests.length, 1)
    assert.is(bad.api.power(102), p.name === 'hcloud' ? 'running' : 'active')
    assert.is(labPowerState(lab.inv, 'node-b'), 'on', 'a rejected token powers nothing off')
  })

  test(`${p.name}: API down: status unknown (never "off": that would let a failover start a second writer)`, async () => {
    const { driver, b, inject, api } = await setup()
    for (let i = 0; i < 10; i++) inject({ status: 503, body: api.errorBody('service_error', 'down') })
    assert.is(await driver.status(b), 'unknown')
  })

  test(`${p.name}: validate and describe`, async () => {
    const { driver, ctx, b } = await setup()
    assert.equal(driver.validate(), [])
    assert.match(
      driver.describe('stop', b).join(),
      p.name === 'hcloud' ? /POST \/servers\/102\/actions\/poweroff/ : /POST \/droplets\/102\/actions \{"type":"power_off"\}/,
    )
    assert.match(p.driver(ctx, {}).validate().join(), new RegExp(`no API token: set ${p.env}`))
  })
}

test.run()
