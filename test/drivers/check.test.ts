// check(): can a driver act, asked before anything changes. Cloud drivers make one read-only
// call with the token against the loopback fakes of both APIs; no node is contacted (the
// inventory pins no host keys, so a stray SSH connect would fail before sending a packet).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { HcloudIpDriver } from '../../lib/drivers/ip-hcloud.ts'
import { DigitalOceanIpDriver } from '../../lib/drivers/ip-digitalocean.ts'
import { HcloudFenceDriver } from '../../lib/drivers/fence-hcloud.ts'
import { DigitalOceanFenceDriver } from '../../lib/drivers/fence-digitalocean.ts'
import { LabFenceDriver } from '../../lib/drivers/fence-lab.ts'
import { LinuxIpDriver } from '../../lib/drivers/ip-linux.ts'
import type { Clock } from '../../lib/cloud/http.ts'
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import type { DriverContext } from '../../lib/drivers/types.ts'
import { SshPool } from '../../lib/ssh.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { FakeDigitalOcean } from '../helpers/fake-digitalocean.ts'
import type { FakeApi } from '../helpers/fake-api.ts'

const TOKEN = 'check-token-1b3d5f7h9j2l4n6p'
const VIP = '203.0.113.10'
const instant: Clock = { now: () => Date.now(), sleep: async () => {} }
const dir = mkdtempSync(path.join(tmpdir(), 'hapair-check-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

function context(edit: (p: any) => void = () => {}): DriverContext {
  const pair: any = {
    name: 'web',
    primary: 'web-1',
    nodes: [
      { name: 'web-1', address: '198.51.100.29', hcloud: { serverId: 101 }, digitalocean: { dropletId: 101 } },
      { name: 'web-2', address: '198.51.100.30', hcloud: { serverId: 102 }, digitalocean: { dropletId: 102 } },
    ],
  }
  edit(pair)
  const inv: LoadedInventory = { file: path.join(dir, 'inv.json'), dir, data: { version: 1, pairs: [pair] } as any }
  return { inv, pair: pair as Pair, pool: new SshPool(inv) }
}

interface Kind {
  name: string
  env: string
  api?: FakeApi
  start(): Promise<FakeApi>
  make(ctx: DriverContext, api: FakeApi, env: Record<string, string>, ids?: { fip?: number; server?: number }): { check(): Promise<string[]> }
}
const opts = (env: Record<string, string>) => ({ env, clock: instant, log: () => {} })
const kinds: Kind[] = [
  {
    name: 'hcloud floating IP',
    env: 'HCLOUD_TOKEN',
    start: () => new FakeHcloud(TOKEN).addServer(101, 'web-1').addServer(102, 'web-2').addFloatingIp(42, VIP, 101).start(),
    make: (ctx, api, env, ids) =>
      new HcloudIpDriver({ address: VIP, driver: 'hcloud', hcloud: { floatingIpId: ids?.fip ?? 42, apiUrl: api.url } }, ctx, opts(env)),
  },
  {
    name: 'digitalocean reserved IP',
    env: 'DIGITALOCEAN_TOKEN',
    start: () => new FakeDigitalOcean(TOKEN).addDroplet(101, 'web-1').addDroplet(102, 'web-2').addReservedIp(VIP, 101).start(),
    make: (ctx, api, env, ids) =>
      new DigitalOceanIpDriver({ address: ids?.fip ? '203.0.113.99' : VIP, driver: 'digitalocean', digitalocean: { apiUrl: api.url } }, ctx, opts(env)),
  },
  {
    name: 'hcloud fencing',
    env: 'HCLOUD_TOKEN',
    start: () => new FakeHcloud(TOKEN).addServer(101, 'web-1').addServer(102, 'web-2').start(),
    make: (ctx, api, env, ids) => new HcloudFenceDriver(withFencing(ctx, 'hcloud', api, ids), opts(env)),
  },
  {
    name: 'digitalocean fencing',
    env: 'DIGITALOCEAN_TOKEN',
    start: () => new FakeDigitalOcean(TOKEN).addDroplet(101, 'web-1').addDroplet(102, 'web-2').start(),
    make: (ctx, api, env, ids) => new DigitalOceanFenceDriver(withFencing(ctx, 'digitalocean', api, ids), opts(env)),
  },
]
function withFencing(ctx: DriverContext, driver: 'hcloud' | 'digitalocean', api: FakeApi, ids?: { server?: number }): DriverContext {
  const nodes = ctx.pair.nodes.map((n, i) => (i === 1 && ids?.server ? { ...n, hcloud: { serverId: ids.server }, digitalocean: { dropletId: ids.server } } : n))
  return { ...ctx, pair: { ...ctx.pair, nodes, fencing: { driver, [driver]: { apiUrl: api.url } } } }
}

test.before(async () => {
  for (const k of kinds) k.api = await k.start()
})
test.after(async () => {
  for (const k of kinds) await k.api?.close()
})

for (const k of kinds) {
  const run = async (env: Record<string, string>, ids?: { fip?: number; server?: number }) => {
    const api = k.api!
    api.requests.length = 0
    try {
      return { problems: await k.make(context(), api, env, ids).check(), api }
    } finally {
      api.clearInjected()
    }
  }

  test(`${k.name}: accepted token, known ids: able to act, read-only`, async () => {
    const { problems, api } = await run({ [k.env]: TOKEN })
    assert.equal(problems, [])
    assert.ok(api.requests.length >= 1)
    assert.ok(
      api.requests.every((r) => r.method === 'GET'),
      'check changes nothing',
    )
  })

  test(`${k.name}: a token the API rejects is a problem naming the provider, not the token`, async () => {
    k.api!.echoAuth = true // a provider (or proxy) that quotes the Authorization header back
    try {
      const { problems, api } = await run({ [k.env]: 'rejected-token-0000000000' })
      assert.ok(problems.length >= 1, 'reported')
      for (const p of problems) {
        assert.match(p, new RegExp(`credentials rejected by ${k.name.split(' ')[0]}: .*401`))
        assert.not.match(p, /rejected-token-0000000000/)
        assert.not.match(p, TOKEN)
      }
      assert.ok(api.requests.every((r) => r.method === 'GET'))
    } finally {
      k.api!.echoAuth = false
    }
  })

  test(`${k.name}: a token without the permission (403) is rejected credentials too`, async () => {
    k.api!.inject(...[1, 2].map(() => ({ status: 403, body: k.api!.errorBody('forbidden', 'insufficient permissions') })))
    const { problems } = await run({ [k.env]: TOKEN })
    assert.ok(problems.length >= 1)
    assert.match(problems[0], /credentials rejected by .*403/)
  })

  test(`${k.name}: no token at all: a problem, no request`, async () => {
    const { problems, api } = await run({})
    assert.ok(problems.length >= 1)
    assert.match(problems[0], new RegExp(`no API token: set ${k.env}`))
    assert.is(api.requests.length, 0)
  })

  test(`${k.name}: an id the provider does not know: not found`, async () => {
    const { problems } = await run({ [k.env]: TOKEN }, { fip: 77, server: 999 })
    assert.is(problems.length, 1, problems.join('\n'))
    assert.match(problems[0], /not found at/)
  })

  test(`${k.name}: API down: a problem (after the bounded retries), never "able to act"`, async () => {
    for (let i = 0; i < 12; i++) k.api!.inject({ status: 503, body: k.api!.errorBody('service_error', 'down') })
    const { problems } = await run({ [k.env]: TOKEN })
    assert.ok(problems.length >= 1)
    assert.match(problems[0], /API did not answer: .*503/)
  })
}

test('linux IP driver: nothing to ask ahead', async () => {
  assert.equal(await new LinuxIpDriver({ address: VIP, driver: 'linux' }, context()).check(), [])
})

test('lab fencing: a lab that is not up cannot read the power state', async () => {
  const ctx = context()
  ctx.inv.data.lab = { name: 'hapair-no-such-lab', subnet: '198.51.100.224/27', controller: '198.51.100.225' } as any
  const problems = await new LabFenceDriver(ctx).check()
  assert.is(problems.length, 2)
  assert.match(problems[0], /fencing web-1: cannot read the lab power state/)
})

test.run()
