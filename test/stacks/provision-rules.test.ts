// The inventory rules the provisioning path adds (lib/inventory/validate.ts), one row each,
// and the pure pieces the stacks are built from (plan, firewall rules, cloud-init).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { existsSync, readFileSync } from 'node:fs'
import { exampleCopy } from './fixture.ts'
import { InputError } from '../../lib/errors.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'
import { cloudInit } from '../../lib/provision/cloud-init.ts'

const rules: { name: string; example?: 'example-hcloud.json' | 'example-digitalocean.json'; edit: (d: any) => void; line?: string }[] = [
  { name: 'the example is valid', edit: () => {} },
  {
    name: 'no SSH public key',
    edit: (d) => {
      delete d.pairs[0].provision.sshPublicKeyFile
    },
    line: 'pairs/0/provision: needs "sshPublicKey" or "sshPublicKeyFile"',
  },
  {
    name: 'floating IP of another provider',
    edit: (d) => {
      d.pairs[0].nodes.forEach((n: any, i: number) => {
        n.digitalocean = { dropletId: i + 1 }
      })
      d.pairs[0].floatingIps = [{ address: '198.51.100.9', driver: 'digitalocean' }]
    },
    line: 'pairs/0/floatingIps/0/driver: "digitalocean" does not match provision.provider "hcloud"',
  },
  {
    name: 'fencing of another provider',
    edit: (d) => {
      d.pairs[0].nodes.forEach((n: any, i: number) => {
        n.digitalocean = { dropletId: i + 1 }
      })
      d.pairs[0].fencing = { driver: 'digitalocean' }
    },
    line: 'pairs/0/fencing/driver: "digitalocean" does not match provision.provider "hcloud"',
  },
  {
    name: 'node ids of another provider',
    edit: (d) => {
      d.pairs[1].nodes[0].digitalocean = { dropletId: 3 }
    },
    line: 'pairs/1/nodes/0/digitalocean: provider ids of another provider than provision.provider "hcloud"',
  },
  {
    name: 'a token is not an inventory field',
    edit: (d) => {
      d.pairs[0].provision.token = 'abc'
    },
    line: 'pairs/0/provision/token: unknown property "token"',
  },
  {
    name: 'digitalocean: two regions',
    example: 'example-digitalocean.json',
    edit: (d) => {
      d.pairs[0].nodes[0].provision = { location: 'nyc3' }
    },
    line: 'pairs/0/provision: all droplets must be in one region',
  },
  {
    name: 'digitalocean: IPv6',
    example: 'example-digitalocean.json',
    edit: (d) => {
      d.pairs[0].provision.floatingIpv6 = true
    },
    line: 'pairs/0/provision/floatingIpv6: not supported with provider "digitalocean"',
  },
]

for (const r of rules) {
  test(`rule: ${r.name}`, () => {
    const fx = exampleCopy(r.example ?? 'example-hcloud.json')
    try {
      fx.edit(r.edit)
      assert.is(r.line, undefined, 'expected a problem')
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      assert.ok(r.line, e.message)
      assert.ok(
        e.problems.some((p) => p.includes(`: ${r.line}`)),
        `want "${r.line}" in:\n${e.problems.join('\n')}`,
      )
    }
  })
}

test('plan: per-node overrides, labels, floating IPs, firewall rules', () => {
  const fx = exampleCopy('example-hcloud.json')
  const [web, db] = provisionPlan(fx.inv, 'hcloud')
  assert.equal(
    web.nodes.map((n) => [n.node.name, n.location, n.serverType, n.image, n.primary]),
    [
      ['web-1', 'fsn1', 'cx22', 'debian-12', true],
      ['web-2', 'fsn1', 'cx22', 'debian-12', false],
    ],
  )
  assert.equal(
    db.nodes.map((n) => n.serverType),
    ['cpx31', 'cpx31'],
  )
  assert.equal(web.labels, { team: 'sre', env: 'prod', service: 'web', 'hapair-pair': 'web', 'managed-by': 'hapair' })
  assert.equal(
    web.floatingIps.map((f) => [f.name, f.family, f.prefix]),
    [
      ['vip', 'ipv4', 32],
      ['vip6', 'ipv6', 64],
    ],
  )
  const ssh = web.rules.filter((r) => r.port === '22')
  assert.equal(
    ssh.map((r) => [r.sources, !!r.peers]),
    [
      [['198.51.100.0/24', '2001:db8:100::/48'], false],
      [[], true],
    ],
  )
  assert.match(web.sshPublicKey!, /^ssh-ed25519 /)
})

test('plan: a private key named as the public key is refused before it reaches a provider', () => {
  const fx = exampleCopy('example-hcloud.json')
  const inv = fx.edit((d) => {
    d.pairs[0].provision.sshPublicKeyFile = 'secrets/hcloud.token'
  })
  assert.throws(() => provisionPlan(inv, 'hcloud'), /is not an OpenSSH public key/)
})

test('cloud-init: valid YAML, packages, state dir, and the address only where asked', () => {
  const fx = exampleCopy('example-hcloud.json')
  const pair = fx.inv.data.pairs[0]
  const primary = cloudInit({
    pair,
    node: pair.nodes[0],
    hold: [
      { address: '198.51.100.10', prefix: 32 },
      { address: '2001:db8:f0::1', prefix: 64 },
    ],
  })
  assert.match(primary, /^#cloud-config\n/)
  const doc = YAML.parse(primary)
  assert.ok(doc.packages.includes('rsync') && doc.packages.includes('iproute2'))
  assert.equal(doc.runcmd[0], ['mkdir', '-p', '/var/lib/hapair/web'])
  assert.equal(doc.runcmd.slice(1), [
    ['sh', '-c', 'ip addr add 198.51.100.10/32 dev eth0 || true'],
    ['sh', '-c', 'ip -6 addr add 2001:db8:f0::1/64 dev eth0 nodad || true'],
  ])
  assert.equal(JSON.parse(doc.write_files[0].content).floatingIps, ['198.51.100.10/32', '2001:db8:f0::1/64'])
  const secondary = YAML.parse(cloudInit({ pair, node: pair.nodes[1], hold: [] }))
  assert.is(secondary.runcmd.length, 1)
})

for (const [dir, name] of [
  ['hcloud', 'ha-hcloud'],
  ['digitalocean', 'ha-digitalocean'],
]) {
  test(`stacks/${dir}/Pulumi.yaml: project ${name}, ESM TypeScript through tsx, config key ${name}:inventory`, () => {
    const at = (f: string) => new URL(`../../stacks/${dir}/${f}`, import.meta.url)
    const y = YAML.parse(readFileSync(at('Pulumi.yaml'), 'utf8'))
    assert.is(y.name, name)
    assert.equal(y.runtime, { name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx' } })
    assert.ok(existsSync(at(y.main)))
    assert.is(y.config.inventory.type, 'string')
    assert.match(readFileSync(at('index.ts'), 'utf8'), new RegExp(`stackInput\\('${name}'`))
  })
}

test.run()
