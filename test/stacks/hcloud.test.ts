// Policies of the hcloud stack under Pulumi mocks; each failure names the resource's URN.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type * as pulumi from '@pulumi/pulumi'
import { declared, setConfig, value } from './mocks.ts'
import { exampleCopy } from './fixture.ts'
import { hcloudStack } from '../../stacks/hcloud/program.ts'
import { networkZone } from '../../stacks/hcloud/ha-pair.ts'
import { recorder, runPolicies } from './policy-harness.ts'
import { stackInput } from '../../stacks/shared/stack.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'
import { importStack } from '../../lib/provision/import.ts'
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import { ipDriver, fenceDriver } from '../../lib/drivers/index.ts'

const build = (inv: LoadedInventory, opts?: pulumi.ComponentResourceOptions) => hcloudStack(provisionPlan(inv, 'hcloud'), opts)

/** The policy pack over the stack built from `inv`: the rules the stack must keep (stacks/policy). */
async function violations(inv: LoadedInventory): Promise<string[]> {
  const r = recorder()
  build(inv, r.opts)
  return (await runPolicies(await r.resources())).map((v) => `${v.policy}: ${v.message} (${v.urn})`)
}

const check = (violations: string[]) => assert.equal(violations, [], violations.join('\n'))

test('example-hcloud: two servers per pair in one spread placement group', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const { components } = build(fx.inv)
  assert.is(components.length, 2)
  for (const c of components) assert.is(Object.keys(c.servers).length, 2)
  check(await violations(fx.inv))
})

test("example-hcloud: floating IPs (v4, and v6 where asked) assigned to the primary's server", async () => {
  const fx = exampleCopy('example-hcloud.json')
  const { components } = build(fx.inv)
  const [web, db] = components
  assert.equal(
    web.floatingIps.map((f) => f.plan.family),
    ['ipv4', 'ipv6'],
  )
  assert.equal(
    db.floatingIps.map((f) => f.plan.family),
    ['ipv4'],
  )
  assert.equal(await Promise.all(web.floatingIps.map((f) => value(f.assignment.serverId))), [
    Number(await value(web.servers['web-1'].id)),
    Number(await value(web.servers['web-1'].id)),
  ])
})

test('example-hcloud: no SSH open to the world; service ports as declared', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const { components } = build(fx.inv)
  check(await violations(fx.inv))
  const rules = (await value(components[1].firewall.rules))!
  const pg = rules.find((r) => r.port === '5432')
  assert.equal(pg?.sourceIps, ['198.51.100.0/24'], 'db port only from the declared source')
  const web = (await value(components[0].firewall.rules))!
  assert.equal(web.find((r) => r.port === '443')?.sourceIps, ['0.0.0.0/0', '::/0'], 'a service port without sources is public')
})

test("pulumi up leaves a failed-over address and the servers' first-boot data alone (ignoreChanges)", async () => {
  const fx = exampleCopy('example-hcloud.json')
  const seen: { type: string; name: string; ignore: string[] }[] = []
  // Transformations run as each resource is constructed, so the list is complete on return: no wait.
  const record: pulumi.ResourceTransformation = (a) => {
    seen.push({ type: a.type, name: a.name, ignore: (a.opts.ignoreChanges ?? []) as string[] })
    return undefined
  }
  hcloudStack(provisionPlan(fx.inv, 'hcloud'), { transformations: [record] })
  const of = (type: string) => seen.filter((x) => x.type === type)
  // Expected from the inventory, not from the stack: one server per node, one assignment per floating IP.
  const pairs = fx.inv.data.pairs.filter((p) => p.provision?.provider === 'hcloud')
  const servers = of('hcloud:index/server:Server')
  const assignments = of('hcloud:index/floatingIpAssignment:FloatingIpAssignment')
  assert.is(
    servers.length,
    pairs.reduce((n, p) => n + p.nodes.length, 0),
    servers.map((x) => x.name).join(', '),
  )
  assert.is(
    assignments.length,
    pairs.reduce((n, p) => n + (p.provision!.floatingIpv6 ? 2 : 1), 0),
    assignments.map((x) => x.name).join(', '),
  )
  // A failover moves the address through the API: `pulumi up` must not move it back.
  for (const a of assignments) assert.ok(a.ignore.includes('serverId'), `${a.name} ignores ${JSON.stringify(a.ignore)}`)
  // hcloud rebuilds a server when its user data, keys or image change: that would wipe the pair's data.
  for (const x of servers)
    for (const prop of ['userData', 'sshKeys', 'image']) assert.ok(x.ignore.includes(prop), `${x.name} ignores ${JSON.stringify(x.ignore)}, not ${prop}`)
  // And nothing else is frozen: firewall rules and the rest follow the inventory on every `pulumi up`.
  const frozen = seen.filter((x) => x.ignore.length && !servers.includes(x) && !assignments.includes(x))
  assert.equal(
    frozen.map((x) => `${x.type}::${x.name}`),
    [],
  )
})

test('world-open admin networks are declared: the SSH policy lets them through', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const inv = fx.edit((d) => {
    d.pairs[0].provision.adminNetworks = ['0.0.0.0/0']
  })
  const [web] = build(inv).components
  assert.ok((await value(web.firewall.rules))!.some((r) => r.port === '22' && r.sourceIps!.includes('0.0.0.0/0')))
  check(await violations(inv))
})

test("the pair has its own private network: one subnet in the servers' zone, each server attached at a fixed address, no public peer rule", async () => {
  const fx = exampleCopy('example-hcloud.json')
  const [web] = build(fx.inv).components
  assert.is(await value(web.network.ipRange), '10.0.0.0/16')
  assert.equal(await Promise.all([value(web.subnet.networkZone), value(web.subnet.ipRange), value(web.subnet.networkId)]), [
    'eu-central',
    '10.0.1.0/24',
    Number(await value(web.network.id)),
  ])
  for (const [node, s] of Object.entries(web.servers)) {
    const a = web.attachments[node]
    assert.is(await value(a.serverId), Number(await value(s.id)), `${node} attached`)
    assert.is(await value(a.networkId), Number(await value(web.network.id)))
  }
  assert.equal(await Promise.all(Object.values(web.attachments).map((a) => value(a.ip))), ['10.0.1.10', '10.0.1.11'])
  const rules = (await value(web.firewall.rules))!
  const publicAddrs = await Promise.all(Object.values(web.servers).map((s) => value(s.ipv4Address)))
  for (const r of rules) for (const a of publicAddrs) assert.not.ok(r.sourceIps?.includes(`${a}/32`), `rule "${r.description}" admits peer ${a}`)
  assert.equal(networkZone('ash'), 'us-east')
  assert.equal(networkZone('hel1'), 'eu-central')
})

test("cloud-init: the primary's kernel takes the floating IPs, the secondary holds none, both get rsync", async () => {
  const fx = exampleCopy('example-hcloud.json')
  const [web] = build(fx.inv).components
  const [ud1, ud2] = await Promise.all([value(web.servers['web-1'].userData), value(web.servers['web-2'].userData)])
  const [v4, net6] = await Promise.all([value(web.floatingIps[0].ip.ipAddress), value(web.floatingIps[1].ip.ipNetwork)])
  assert.match(ud1!, /^#cloud-config\n/)
  assert.ok(ud1!.includes(`ip addr add ${v4}/32 dev eth0`), ud1)
  assert.ok(ud1!.includes(`ip -6 addr add ${net6.replace('/64', '')}1/64 dev eth0 nodad`), ud1)
  assert.not.ok(/addr add/.test(ud2!), ud2)
  for (const u of [ud1!, ud2!]) assert.match(u, /- rsync/)
})

test('outputs feed import-stack into an inventory that validates, with hcloud drivers and fencing', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const inv = fx.edit((d) => {
    for (const p of d.pairs) p.provision.tokenFile = 'secrets/hcloud.token'
  })
  const stack = build(inv)
  const outputs = { pairs: await value(stack.pairs) }
  const r = importStack(inv, JSON.parse(JSON.stringify(outputs)), 'stack.json')
  const [web, db] = r.inventory.data.pairs
  const s1 = await value(stack.components[0].servers['web-1'].id)
  assert.is(web.nodes[0].hcloud?.serverId, Number(s1))
  assert.is(web.nodes[0].address, await value(stack.components[0].servers['web-1'].ipv4Address))
  // The private addresses the servers were attached at: node-to-node traffic goes there.
  assert.equal(
    r.inventory.data.pairs.flatMap((p) => p.nodes.map((n) => n.privateAddress)),
    ['10.0.1.10', '10.0.1.11', '10.0.1.10', '10.0.1.11'],
  )
  assert.ok(r.changes.includes('web/web-2: privateAddress (none) -> 10.0.1.11'), r.changes.join('\n'))
  assert.equal(
    web.floatingIps!.map((f) => [f.name, f.driver, f.prefix]),
    [
      ['vip', 'hcloud', undefined],
      ['vip6', 'hcloud', 64],
    ],
  )
  assert.is(web.fencing?.driver, 'hcloud')
  assert.equal(db.fencing, { driver: 'hcloud', hcloud: { tokenFile: 'secrets/hcloud.token' } }, 'provision.tokenFile reaches the drivers')
  assert.is(db.floatingIps![0].hcloud?.tokenFile, 'secrets/hcloud.token')
  // The playbooks' driver registry accepts what was written.
  const saved = process.env.HCLOUD_TOKEN
  process.env.HCLOUD_TOKEN = 'x'.repeat(20)
  try {
    for (const pair of r.inventory.data.pairs) {
      const ctx = { inv: r.inventory, pair, pool: {} as never }
      for (const f of pair.floatingIps!) assert.is(ipDriver(f, ctx).kind, 'hcloud')
      assert.is(fenceDriver(ctx)?.kind, 'hcloud')
    }
  } finally {
    if (saved === undefined) delete process.env.HCLOUD_TOKEN
    else process.env.HCLOUD_TOKEN = saved
  }
  assert.ok(
    r.changes.some((c) => /web\/web-1: hcloud.serverId \(none\) -> \d+/.test(c)),
    r.changes.join('\n'),
  )
})

test("the stack reads the inventory from config ha-hcloud:inventory through the playbooks' loader", async () => {
  const fx = exampleCopy('example-hcloud.json')
  setConfig('ha-hcloud:inventory', fx.file)
  const { inv, plans } = stackInput('ha-hcloud', 'hcloud')
  assert.is(inv.file, fx.file)
  assert.equal(
    plans.map((p) => p.pair.name),
    ['web', 'db'],
  )
  assert.equal(
    plans[1].nodes.map((n) => n.serverType),
    ['cpx31', 'cpx31'],
    'node-level serverType wins',
  )
})

const bad: { name: string; edit: (d: any) => void; message: RegExp }[] = [
  {
    name: 'schema error',
    edit: (d) => {
      d.pairs[0].provision.serverType = 7
    },
    message: /edited-\w+\.json: pairs\/0\/provision\/serverType: must be string/,
  },
  {
    name: 'semantic error',
    edit: (d) => {
      delete d.pairs[0].provision.sshPublicKeyFile
    },
    message: /pairs\/0\/provision: needs "sshPublicKey" or "sshPublicKeyFile"/,
  },
  {
    name: 'unreadable key file',
    edit: (d) => {
      d.pairs[0].provision.sshPublicKeyFile = 'keys/missing.pub'
    },
    message: /pairs\/0\/provision\/sshPublicKeyFile: cannot read .*missing\.pub: no such file/,
  },
  {
    name: 'no pair for this provider',
    edit: (d) => {
      for (const p of d.pairs) p.provision.provider = 'digitalocean'
      for (const p of d.pairs) delete p.provision.floatingIpv6
    },
    message: /no pair has a provision block with provider "hcloud" \(found: web \(digitalocean\), db \(digitalocean\)\)/,
  },
]

for (const c of bad) {
  test(`a bad inventory fails the stack before any resource is declared: ${c.name}`, async () => {
    const fx = exampleCopy('example-hcloud.json')
    setConfig('ha-hcloud:inventory', fx.write(c.edit))
    const before = declared.length
    let err: Error | undefined
    try {
      const { plans } = stackInput('ha-hcloud', 'hcloud')
      build({} as never) // not reached
      void plans
    } catch (e) {
      err = e as Error
    }
    assert.ok(err, 'the stack should fail')
    assert.is(err!.constructor.name, 'RunError', 'Pulumi prints a RunError without a stack trace')
    assert.match(err!.message, c.message)
    assert.is(declared.length, before, 'no resource declared')
  })
}

test('index.ts: the program Pulumi runs exports the pairs', async () => {
  const fx = exampleCopy('example-hcloud.json')
  setConfig('ha-hcloud:inventory', fx.file)
  const mod = await import('../../stacks/hcloud/index.ts')
  const pairs = await value(mod.pairs)
  assert.equal(Object.keys(pairs), ['web', 'db'])
  assert.is(pairs.web.provider, 'hcloud')
})

test('pairs that share an SSH key share one key resource (providers refuse duplicates)', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const before = declared.length
  const { components } = build(fx.inv)
  // A server registers only once its key's id is known: when every server has an id, every key is declared. No guessed wait.
  await Promise.all(components.flatMap((c) => Object.values(c.servers).map((s) => value(s.id))))
  const keys = declared.slice(before).filter((d) => d.type === 'hcloud:index/sshKey:SshKey')
  assert.is(keys.length, 1, keys.map((k) => k.name).join(', '))
})

test.run()
