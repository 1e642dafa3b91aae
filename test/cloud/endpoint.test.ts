// Where the cloud drivers send their requests: the inventory block's apiUrl, else the
// provider's endpoint variable (HCLOUD_ENDPOINT, DIGITALOCEAN_API_URL), else the public API.
// The variable is how an inventory written by import-stack (no apiUrl) reaches another
// endpoint without being edited; the drivers are checked against the loopback fakes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { apiBase } from '../../lib/cloud/options.ts'
import { HCLOUD_API } from '../../lib/cloud/hcloud.ts'
import { DIGITALOCEAN_API } from '../../lib/cloud/digitalocean.ts'
import { InputError } from '../../lib/errors.ts'
import { HcloudFenceDriver } from '../../lib/drivers/fence-hcloud.ts'
import { DigitalOceanFenceDriver } from '../../lib/drivers/fence-digitalocean.ts'
import type { DriverContext } from '../../lib/drivers/types.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import type { SshPool } from '../../lib/ssh.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { FakeDigitalOcean } from '../helpers/fake-digitalocean.ts'

const TOKEN = 'endpoint-test-token-0f1e2d3c4b5a'

test('apiUrl wins; else the variable (trailing slashes dropped); else the public API', () => {
  const env = { HCLOUD_ENDPOINT: 'http://127.0.0.1:9/v1/' }
  assert.is(apiBase('http://fake.example/v1', HCLOUD_API, env), 'http://fake.example/v1')
  assert.is(apiBase(undefined, HCLOUD_API, env), 'http://127.0.0.1:9/v1')
  assert.is(apiBase(undefined, HCLOUD_API, {}), 'https://api.hetzner.cloud/v1')
  assert.is(apiBase(undefined, HCLOUD_API, { HCLOUD_ENDPOINT: '  ' }), 'https://api.hetzner.cloud/v1')
  assert.is(apiBase(undefined, DIGITALOCEAN_API, { DIGITALOCEAN_API_URL: 'https://do.example/v2' }), 'https://do.example/v2')
  assert.is(apiBase(undefined, DIGITALOCEAN_API, { HCLOUD_ENDPOINT: 'https://x.example' }), 'https://api.digitalocean.com/v2')
})

test('a variable that is not an http(s) URL is bad input naming it; credentials in it are refused unprinted', () => {
  for (const v of ['api.hetzner.cloud/v1', 'ftp://x.example/v1', 'http://']) {
    const e = (() => {
      try {
        apiBase(undefined, HCLOUD_API, { HCLOUD_ENDPOINT: v })
      } catch (x) {
        return x
      }
    })()
    assert.instance(e, InputError, v)
    assert.match((e as Error).message, /^HCLOUD_ENDPOINT: not an http\(s\) API base URL/)
  }
  try {
    apiBase(undefined, DIGITALOCEAN_API, { DIGITALOCEAN_API_URL: 'https://user:s3cret@do.example/v2' })
    assert.unreachable('accepted credentials in the URL')
  } catch (e) {
    assert.instance(e, InputError)
    assert.match((e as Error).message, /^DIGITALOCEAN_API_URL: /)
    assert.not.match((e as Error).message, /s3cret/)
  }
})

// Only the API is asked here: no node is reached, so the pool is never used.
const ctx = (pair: Pair): DriverContext => ({ inv: { dir: '/nonexistent', file: '/nonexistent/inv.json' } as LoadedInventory, pair, pool: {} as SshPool })
const pair = (fencing: Pair['fencing'], ids: Record<string, object>): Pair =>
  ({ name: 'web', primary: 'web-1', nodes: Object.entries(ids).map(([name, id]) => ({ name, address: '203.0.113.1', ...id })), fencing }) as Pair

test('hcloud fencing of an imported inventory (no apiUrl) reads the power state at HCLOUD_ENDPOINT', async () => {
  const api = await new FakeHcloud(TOKEN).addServer(201, 'web-1', 'running').addServer(202, 'web-2', 'off').start()
  try {
    const p = pair({ driver: 'hcloud' }, { 'web-1': { hcloud: { serverId: 201 } }, 'web-2': { hcloud: { serverId: 202 } } })
    const d = new HcloudFenceDriver(ctx(p), { env: { HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: api.url } })
    assert.is(await d.status(p.nodes[0]), 'on')
    assert.is(await d.status(p.nodes[1]), 'off')
    assert.equal(
      api.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /v1/servers/201', 'GET /v1/servers/202'],
    )
    assert.throws(() => new HcloudFenceDriver(ctx(p), { env: { HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: 'not a url' } }), /HCLOUD_ENDPOINT/)
  } finally {
    await api.close()
  }
})

test('DigitalOcean fencing likewise at DIGITALOCEAN_API_URL', async () => {
  const api = await new FakeDigitalOcean(TOKEN).addDroplet(301, 'db-1').start()
  try {
    const p = pair({ driver: 'digitalocean' }, { 'db-1': { digitalocean: { dropletId: 301 } } })
    const d = new DigitalOceanFenceDriver(ctx(p), { env: { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: api.url } })
    assert.is(await d.status(p.nodes[0]), 'on')
    assert.equal(
      api.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /v2/droplets/301'],
    )
  } finally {
    await api.close()
  }
})

test.run()
