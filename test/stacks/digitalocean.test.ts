// Policies of the DigitalOcean stack under Pulumi mocks; each failure names the resource's URN.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { declared, setConfig, urnOf, value } from './mocks.ts'
import { exampleCopy } from './fixture.ts'
import { digitaloceanStack } from '../../stacks/digitalocean/program.ts'
import type { HaPair } from '../../stacks/digitalocean/ha-pair.ts'
import { stackInput } from '../../stacks/shared/stack.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'
import { importStack } from '../../lib/provision/import.ts'
import { isWorld } from '../../lib/provision/firewall.ts'
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import { fenceDriver, ipDriver } from '../../lib/drivers/index.ts'

const build = (inv: LoadedInventory) => digitaloceanStack(provisionPlan(inv, 'digitalocean'))
const check = (v: string[]) => assert.equal(v, [], v.join('\n'))

/** One droplet per node, all in the primary's region, all carrying the tag the firewall applies to. */
async function dropletViolations(c: HaPair, nodes: number, region: string): Promise<string[]> {
  const out: string[] = []
  const ds = Object.values(c.droplets)
  if (ds.length !== nodes) out.push(`${await urnOf(c)}: ${ds.length} droplets for ${nodes} nodes`)
  const tag = await value(c.tag.name)
  const fwTags = (await value(c.firewall.tags)) ?? []
  if (!fwTags.includes(tag)) out.push(`${await urnOf(c.firewall)}: not applied to tag ${tag}`)
  for (const d of ds) {
    if ((await value(d.region)) !== region) out.push(`${await urnOf(d)}: region ${await value(d.region)}, want ${region} (a reserved IP is regional)`)
    if (!((await value(d.tags)) ?? []).includes(tag)) out.push(`${await urnOf(d)}: lacks tag ${tag}: the firewall would not cover it`)
  }
  return out
}

async function primaryViolations(c: HaPair, primary: string): Promise<string[]> {
  const want = Number(await value(c.droplets[primary].id))
  const got = await value(c.reservedIp.dropletId)
  return got === want ? [] : [`${await urnOf(c.reservedIp)}: assigned to droplet ${got}, want the primary ${primary} (${want})`]
}

async function sshViolations(c: HaPair, worldAllowed: boolean): Promise<string[]> {
  const out: string[] = []
  for (const r of (await value(c.firewall.inboundRules)) ?? []) {
    const src = r.sourceAddresses ?? []
    if (r.protocol === 'tcp' && r.portRange === '22' && src.some(isWorld) && !worldAllowed)
      out.push(`${await urnOf(c.firewall)}: SSH open to ${src.filter(isWorld).join(', ')}`)
  }
  if (!((await value(c.firewall.outboundRules)) ?? []).length) out.push(`${await urnOf(c.firewall)}: no outbound rules: DigitalOcean would block all egress`)
  return out
}

test('example-digitalocean: droplets per node in one region, covered by the firewall tag', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const [api] = build(fx.inv).components
  check(await dropletViolations(api, 2, 'fra1'))
})

test("example-digitalocean: reserved IP assigned to the primary's droplet, and left alone after a failover", async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const seen = new Map<string, string[]>()
  const [api] = digitaloceanStack(provisionPlan(fx.inv, 'digitalocean'), {
    transformations: [
      (a) => {
        seen.set(a.name, (a.opts.ignoreChanges ?? []) as string[])
        return undefined
      },
    ],
  }).components
  check(await primaryViolations(api, 'api-1'))
  assert.equal(seen.get('api-vip'), ['dropletId'])
  assert.equal(seen.get('api-api-1'), ['userData', 'sshKeys', 'image'])
})

test('example-digitalocean: no SSH open to the world; peers by tag; egress allowed', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const [api] = build(fx.inv).components
  check(await sshViolations(api, false))
  const rules = (await value(api.firewall.inboundRules))!
  const tag = await value(api.tag.name)
  assert.ok(
    rules.some((r) => r.portRange === '22' && r.sourceTags?.includes(tag)),
    'peer SSH by tag',
  )
  assert.equal(rules.find((r) => r.portRange === '8080')?.sourceAddresses, ['0.0.0.0/0', '::/0'])
  const world = build(
    fx.edit((d) => {
      d.pairs[0].provision.adminNetworks = ['0.0.0.0/0', '::/0']
    }),
  ).components[0]
  const v = await sshViolations(world, false)
  assert.ok(v.length === 1 && /digitalocean:index\/firewall:Firewall::api-fw: SSH open to 0\.0\.0\.0\/0, ::\/0/.test(v[0]), v.join('\n'))
})

test('cloud-init on DigitalOcean holds no address (the reserved IP reaches the anchor IP) but installs the node packages', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const [api] = build(fx.inv).components
  for (const d of Object.values(api.droplets)) {
    const ud = (await value(d.userData))!
    assert.not.match(ud, /addr add/)
    assert.match(ud, /- rsync/)
  }
})

test('outputs feed import-stack into an inventory that validates, with digitalocean drivers and fencing', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const stack = build(fx.inv)
  const outputs = JSON.parse(JSON.stringify({ pairs: await value(stack.pairs) }))
  assert.equal(Object.keys(outputs.pairs.api.floatingIps[0]).sort(), ['address', 'family', 'name'], 'no id: DigitalOcean names a reserved IP by its address')
  const r = importStack(fx.inv, outputs, 'stack.json')
  const pair = r.inventory.data.pairs[0]
  assert.is(pair.nodes[1].digitalocean?.dropletId, Number(await value(stack.components[0].droplets['api-2'].id)))
  assert.equal(pair.floatingIps, [{ name: 'vip', address: await value(stack.components[0].reservedIp.ipAddress), driver: 'digitalocean' }])
  assert.equal(pair.fencing, { driver: 'digitalocean' })
  const ctx = { inv: r.inventory, pair, pool: {} as never }
  const saved = process.env.DIGITALOCEAN_TOKEN
  process.env.DIGITALOCEAN_TOKEN = 'dop_v1_' + 'x'.repeat(20)
  try {
    assert.is(ipDriver(pair.floatingIps![0], ctx).kind, 'digitalocean')
    assert.is(fenceDriver(ctx)?.kind, 'digitalocean')
  } finally {
    if (saved === undefined) delete process.env.DIGITALOCEAN_TOKEN
    else process.env.DIGITALOCEAN_TOKEN = saved
  }
})

const bad: { name: string; edit: (d: any) => void; message: RegExp }[] = [
  {
    name: 'droplets in two regions',
    edit: (d) => {
      d.pairs[0].nodes[1].provision = { location: 'ams3' }
    },
    message: /pairs\/0\/provision: all droplets must be in one region.*fra1, ams3/,
  },
  {
    name: 'reserved IPv6 asked for',
    edit: (d) => {
      d.pairs[0].provision.floatingIpv6 = true
    },
    message: /pairs\/0\/provision\/floatingIpv6: not supported with provider "digitalocean"/,
  },
  {
    name: 'schema error',
    edit: (d) => {
      d.pairs = '{'
    },
    message: /pairs: must be array/,
  },
]
for (const c of bad) {
  test(`a bad inventory fails the stack before any resource is declared: ${c.name}`, () => {
    const fx = exampleCopy('example-digitalocean.json')
    setConfig('ha-digitalocean:inventory', fx.write(c.edit))
    const before = declared.length
    try {
      stackInput('ha-digitalocean', 'digitalocean')
      assert.unreachable('should fail')
    } catch (e) {
      assert.is((e as Error).constructor.name, 'RunError')
      assert.match((e as Error).message, c.message)
    }
    assert.is(declared.length, before)
  })
}

test('config not set: says how to set it', () => {
  setConfig('ha-digitalocean:inventory', '')
  try {
    stackInput('ha-digitalocean', 'digitalocean')
    assert.unreachable()
  } catch (e) {
    assert.match((e as Error).message, /pulumi config set ha-digitalocean:inventory/)
  }
})

test.run()
