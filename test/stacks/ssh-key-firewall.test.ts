// Under Pulumi mocks: an SSH key already in the project is used, not created (the providers
// refuse a second key with the same fingerprint), and the hcloud firewall reaches the servers
// one way only (firewallIds at creation; no FirewallAttachment: terraform-provider-hcloud#828).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { declared, invoked, projectSshKeys, value } from './mocks.ts'
import { exampleCopy } from './fixture.ts'
import { hcloudStack } from '../../stacks/hcloud/program.ts'
import { digitaloceanStack } from '../../stacks/digitalocean/program.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'

projectSshKeys.push(
  {
    id: 4711,
    name: 'ops-laptop',
    fingerprint: 'b7:2f:1c:00',
    publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHapairExampleKeyForTestsOnly0000000000000000 ops',
  },
  { id: 4712, name: 'ci', fingerprint: 'c1:00:aa:01', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHapairExampleKeyForTestsOnly1111111111111111 ci' },
)

/** Everything declared while `fn` built a stack and its outputs resolved. */
async function declaredBy(fn: () => Promise<unknown>) {
  const d = declared.length
  const i = invoked.length
  await fn()
  return { resources: declared.slice(d), invokes: invoked.slice(i) }
}

const existing = (key: { name?: string; id?: number }) => (d: any) => {
  for (const p of d.pairs) {
    delete p.provision.sshPublicKeyFile
    p.provision.sshKey = key
  }
}

for (const [how, key] of [
  ['name', { name: 'ops-laptop' }],
  ['id', { id: 4711 }],
] as const) {
  test(`hcloud: an existing key by ${how} is looked up and used; no SshKey is created`, async () => {
    const fx = exampleCopy('example-hcloud.json')
    const inv = fx.edit(existing(key))
    let sshKeys: unknown[] = []
    const { resources, invokes } = await declaredBy(async () => {
      const s = hcloudStack(provisionPlan(inv, 'hcloud'))
      await value(s.pairs)
      sshKeys = await Promise.all(s.components.flatMap((c) => Object.values(c.servers).map((x) => value(x.sshKeys))))
    })
    assert.equal(
      resources.filter((r) => r.type === 'hcloud:index/sshKey:SshKey'),
      [],
    )
    assert.ok(
      invokes.some((c) => c.token === 'hcloud:index/getSshKey:getSshKey' && (how === 'name' ? c.inputs.name === 'ops-laptop' : c.inputs.id === 4711)),
      JSON.stringify(invokes),
    )
    assert.is(sshKeys.length, 4)
    for (const k of sshKeys) assert.equal(k, ['4711'])
  })
}

test('hcloud: one pair on an existing key, the other creating one: exactly one SshKey, for the second', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const inv = fx.edit((d) => {
    delete d.pairs[0].provision.sshPublicKeyFile
    d.pairs[0].provision.sshKey = { name: 'ci' }
  })
  const { resources } = await declaredBy(async () => value(hcloudStack(provisionPlan(inv, 'hcloud')).pairs))
  const keys = resources.filter((r) => r.type === 'hcloud:index/sshKey:SshKey')
  assert.is(keys.length, 1)
  assert.match(keys[0].inputs.publicKey, /^ssh-ed25519 /)
  const servers = resources.filter((r) => r.type === 'hcloud:index/server:Server')
  assert.equal(servers.map((s) => [s.name, s.inputs.sshKeys]).sort(), [
    ['db-db-1', [keys[0].id]],
    ['db-db-2', [keys[0].id]],
    ['web-web-1', ['4712']],
    ['web-web-2', ['4712']],
  ])
})

for (const [how, key, want] of [
  ['name', { name: 'ops-laptop' }, 'b7:2f:1c:00'],
  ['id', { id: 4711 }, '4711'],
] as const) {
  test(`digitalocean: an existing key by ${how} is used as ${how === 'name' ? 'its fingerprint' : 'the id'}; no SshKey is created`, async () => {
    const fx = exampleCopy('example-digitalocean.json')
    const inv = fx.edit(existing(key))
    const { resources } = await declaredBy(async () => value(digitaloceanStack(provisionPlan(inv, 'digitalocean')).pairs))
    assert.equal(
      resources.filter((r) => r.type === 'digitalocean:index/sshKey:SshKey'),
      [],
    )
    const droplets = resources.filter((r) => r.type === 'digitalocean:index/droplet:Droplet')
    assert.is(droplets.length, 2)
    for (const d of droplets) assert.equal(d.inputs.sshKeys, [want])
  })
}

test('the SSH key rules: sshKey alone is enough; not with a public key; name or id, one of them', () => {
  const fx = exampleCopy('example-hcloud.json')
  assert.ok(fx.edit(existing({ name: 'ops-laptop' })))
  const problems = (edit: (d: any) => void) => {
    try {
      fx.edit(edit)
      return []
    } catch (e) {
      return (e as { problems: string[] }).problems
    }
  }
  assert.ok(
    problems((d) => {
      d.pairs[0].provision.sshKey = { name: 'x' }
    }).some((p) =>
      p.endsWith('pairs/0/provision/sshKey: give "sshKey" (a key already in the project) or "sshPublicKey"/"sshPublicKeyFile" (a key to create), not both'),
    ),
  )
  assert.ok(problems(existing({ name: 'x', id: 3 })).some((p) => p.endsWith('pairs/0/provision/sshKey: give the key\'s "name" or its "id", one of them')))
  assert.ok(problems(existing({})).some((p) => p.endsWith('pairs/1/provision/sshKey: give the key\'s "name" or its "id", one of them')))
  assert.ok(
    problems((d) => {
      d.pairs[0].provision.sshKey = { fingerprint: 'aa' }
      delete d.pairs[0].provision.sshPublicKeyFile
    }).some((p) => /pairs\/0\/provision\/sshKey\/fingerprint: unknown property "fingerprint"/.test(p)),
  )
})

test('hcloud: the firewall reaches each server one way: its firewallIds at creation, no FirewallAttachment', async () => {
  const fx = exampleCopy('example-hcloud.json')
  let checks: Promise<void>[] = []
  const { resources } = await declaredBy(async () => {
    const s = hcloudStack(provisionPlan(fx.inv, 'hcloud'))
    await value(s.pairs)
    checks = s.components.flatMap((c) =>
      Object.entries(c.servers).map(async ([node, server]) => {
        const [ids, fw, ipv4, pip, net6, pnet6] = await Promise.all([
          value(server.firewallIds),
          value(c.firewall.id),
          value(server.ipv4Address),
          value(c.primaryIps[node].ipv4.ipAddress),
          value(server.ipv6Network),
          value(c.primaryIps[node].ipv6.ipNetwork),
        ])
        assert.equal(ids, [Number(fw)], `${node}: firewallIds`)
        assert.is(ipv4, pip, `${node}: on its primary IPv4`)
        assert.is(net6, pnet6, `${node}: on its primary IPv6`)
      }),
    )
    await Promise.all(checks)
  })
  assert.equal(
    resources.filter((r) => r.type === 'hcloud:index/firewallAttachment:FirewallAttachment').map((r) => r.name),
    [],
  )
  assert.is(resources.filter((r) => r.type === 'hcloud:index/firewall:Firewall').length, 2, 'one per pair')
  // No rule names the peers (they meet on the private network, which Hetzner's firewall does not filter), so no firewall waits for a server.
  const web = resources.find((r) => r.type === 'hcloud:index/firewall:Firewall' && r.name === 'web-fw')!
  const firstServer = resources.findIndex((r) => r.type === 'hcloud:index/server:Server' && r.name.startsWith('web-'))
  assert.ok(resources.indexOf(web) < firstServer, 'the firewall is registered before the servers')
  assert.equal(
    web.inputs.rules.map((r: any) => r.description),
    ['ssh from admin networks', 'icmp from admin networks and the private network', 'service tcp/80', 'service tcp/443'],
  )
})

test('digitalocean: the firewall is applied by tag only (no droplet ids to race with)', async () => {
  const fx = exampleCopy('example-digitalocean.json')
  const { resources } = await declaredBy(async () => value(digitaloceanStack(provisionPlan(fx.inv, 'digitalocean')).pairs))
  const fws = resources.filter((r) => r.type === 'digitalocean:index/firewall:Firewall')
  assert.is(fws.length, 1)
  assert.is(fws[0].inputs.dropletIds, undefined)
  assert.equal(fws[0].inputs.tags, ['hapair-api'])
})

test.run()
