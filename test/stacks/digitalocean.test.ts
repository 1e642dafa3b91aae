// Policies of the DigitalOcean stack under Pulumi mocks; each failure names the resource's URN.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { declared, setConfig, value } from './mocks.ts'
import { exampleCopy } from './fixture.ts'
import { digitaloceanStack } from '../../stacks/digitalocean/program.ts'
import { recorder, runPolicies } from './policy-harness.ts'
import { stackInput } from '../../stacks/shared/stack.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'
import { importStack } from '../../lib/provision/import.ts'
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import { fenceDriver, ipDriver } from '../../lib/drivers/index.ts'

const build = (inv: LoadedInventory) => digitaloceanStack(provisionPlan(inv, 'digitalocean'))
const check = (v: string[]) => assert.equal(v, [], v.join('\n'))

/** The policy pack over the stack built from `inv` (stacks/policy). */
async function violations(inv: LoadedInventory): Promise<string[]> {
  const r = recorder()
  digitaloceanStack(provisionPlan(inv, 'digitalocean'), r.opts)
  return (await runPolicies(await r.resources())).map((v) => `${v.policy}: ${v.message} (${v.urn})`)
}

test('example-digitalocean: droplets per node in one region, covered by the firewall tag', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const [api] = build(fx.inv).components
  assert.equal(await Promise.all(Object.values(api.droplets).map((d) => value(d.region))), ['fra1', 'fra1'])
  check(await violations(fx.inv))
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
  assert.is(await value(api.reservedIp.dropletId), Number(await value(api.droplets['api-1'].id)))
  assert.equal(seen.get('api-vip'), ['dropletId'])
  assert.equal(seen.get('api-api-1'), ['userData', 'sshKeys', 'image', 'vpcUuid'])
})

test('example-digitalocean: no SSH open to the world; peers by the VPC range only; egress allowed', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const [api] = build(fx.inv).components
  check(await violations(fx.inv))
  const rules = (await value(api.firewall.inboundRules))!
  const range = await value(api.vpc.ipRange)
  assert.equal(
    rules.filter((r) => r.portRange === '22').map((r) => r.sourceAddresses),
    [fx.inv.data.pairs[0].provision!.adminNetworks, [range]],
  )
  assert.ok(
    rules.every((r) => !r.sourceTags?.length && !r.sourceDropletIds?.length),
    'no rule admits droplets by tag or id (that would be their public addresses too)',
  )
  assert.equal(rules.find((r) => r.portRange === '8080')?.sourceAddresses, ['0.0.0.0/0', '::/0'])
  assert.ok(((await value(api.firewall.outboundRules)) ?? []).length, 'outbound rules: without them DigitalOcean blocks all egress')
  // World-open admin networks, declared by the inventory, pass the SSH policy.
  check(
    await violations(
      fx.edit((d) => {
        d.pairs[0].provision.adminNetworks = ['0.0.0.0/0', '::/0']
      }),
    ),
  )
})

test("the droplets share the pair's VPC in their region; outputs carry the private addresses", async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const stack = build(fx.inv)
  const [api] = stack.components
  assert.is(await value(api.vpc.region), 'fra1')
  const vpc = await value(api.vpc.id)
  for (const d of Object.values(api.droplets)) assert.is(await value(d.vpcUuid), vpc)
  const out = await value(stack.pairs)
  for (const [node, d] of Object.entries(api.droplets)) assert.is(out.api.nodes[node].privateIpv4, await value(d.ipv4AddressPrivate))
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
  assert.is(pair.nodes[1].privateAddress, await value(stack.components[0].droplets['api-2'].ipv4AddressPrivate))
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
