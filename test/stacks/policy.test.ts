// The policy pack (stacks/policy) against both stack programs under the mocks: the examples
// pass every rule, and each rule reports a resource set that breaks it, naming the resource.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { PolicyResource } from '@pulumi/policy'
import './mocks.ts'
import { exampleCopy } from './fixture.ts'
import { find, recorder, runPolicies, type Violation } from './policy-harness.ts'
import { hcloudStack } from '../../stacks/hcloud/program.ts'
import { digitaloceanStack } from '../../stacks/digitalocean/program.ts'
import { policies } from '../../stacks/policy/rules.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'
import type { LoadedInventory } from '../../lib/inventory/load.ts'

async function hcloud(inv: LoadedInventory = exampleCopy('example-hcloud.json').inv): Promise<PolicyResource[]> {
  const r = recorder()
  hcloudStack(provisionPlan(inv, 'hcloud'), r.opts)
  return r.resources()
}
async function digitalocean(inv: LoadedInventory = exampleCopy('example-digitalocean.json').inv): Promise<PolicyResource[]> {
  const r = recorder()
  digitaloceanStack(provisionPlan(inv, 'digitalocean'), r.opts)
  return r.resources()
}

// The policy SDK's own preview values: a sentinel per unknown, and the proxy that throws on reading one.
const proxy = createRequire(import.meta.url)('@pulumi/policy/proxy.js') as {
  unknownCheckingProxy: <T extends object>(o: T) => T
  unknownStringValue: string
  unknownNumberValue: string
  unknownArrayValue: string
}

const HC = (t: string) => `hcloud:index/${t[0].toLowerCase()}${t.slice(1)}:${t}`
const DO = (t: string) => `digitalocean:index/${t[0].toLowerCase()}${t.slice(1)}:${t}`

const none = (v: Violation[]) => assert.equal(v, [], v.map((x) => `${x.policy}: ${x.message} (${x.urn})`).join('\n'))
/** Exactly the violations of one policy, each on the URN given. */
function only(v: Violation[], policy: string, urn: string, message: RegExp) {
  const text = v.map((x) => `${x.policy}: ${x.message} (${x.urn})`).join('\n')
  assert.ok(v.length > 0, `${policy}: no violation reported`)
  for (const x of v) {
    assert.is(x.policy, policy, text)
    assert.is(x.urn, urn, text)
    assert.match(x.message, message, text)
  }
}

test('the pack: four mandatory stack policies', () => {
  assert.equal(
    policies.map((p) => [p.name, p.enforcementLevel]),
    [
      ['ssh-not-open-to-world', 'mandatory'],
      ['pair-in-one-spread-group', 'mandatory'],
      ['floating-ip-on-primary', 'mandatory'],
      ['sync-traffic-private', 'mandatory'],
    ],
  )
  const y = YAML.parse(readFileSync(new URL('../../stacks/policy/PulumiPolicy.yaml', import.meta.url), 'utf8'))
  assert.equal(y.runtime, { name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx' } })
  assert.ok(existsSync(new URL(`../../stacks/policy/${y.main}`, import.meta.url)))
})

test('hcloud and digitalocean examples: no violation', async () => {
  const [h, d] = await Promise.all([hcloud(), digitalocean()])
  assert.ok(h.some((r) => r.type === 'hapair:hcloud:HaPair') && d.some((r) => r.type === 'hapair:digitalocean:HaPair'))
  none(await runPolicies(h))
  none(await runPolicies(d))
})

test('ssh-not-open-to-world: a world-open SSH rule fails unless adminNetworks declare it', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const open = fx.edit((d) => {
    d.pairs[0].provision.adminNetworks = ['0.0.0.0/0']
  })
  none(await runPolicies(await hcloud(open)))
  // The same firewall in a pair whose inventory did not ask for it.
  const rs = await hcloud()
  const fw = find(rs, HC('Firewall'), 'web-fw')
  fw.props.rules.find((r: any) => r.port === '22').sourceIps.push('0.0.0.0/0')
  only(await runPolicies(rs), 'ssh-not-open-to-world', fw.urn, /rule \d \("ssh from admin networks"\) opens SSH \(22\) to 0\.0\.0\.0\/0/)
  assert.match(fw.urn, /^urn:pulumi:test::hapair-test::hapair:hcloud:HaPair\$hcloud:index\/firewall:Firewall::web-fw$/)

  const d = await digitalocean()
  const dfw = find(d, DO('Firewall'), 'api-fw')
  dfw.props.inboundRules.push({ protocol: 'tcp', portRange: '1-65535', sourceAddresses: ['::/0'] })
  only(await runPolicies(d), 'ssh-not-open-to-world', dfw.urn, /inbound rule \d+ opens SSH \(22\) to ::\/0/)
})

test('ssh-not-open-to-world: a server created without the firewall, a droplet outside its tag', async () => {
  const rs = await hcloud()
  const s = find(rs, HC('Server'), 'db-2')
  s.props.firewallIds = []
  only(await runPolicies(rs), 'ssh-not-open-to-world', s.urn, /server db-db-2 is not created with the pair's firewall/)
  const d = await digitalocean()
  const drop = find(d, DO('Droplet'), 'api-2')
  drop.props.tags = ['something-else']
  only(await runPolicies(d), 'ssh-not-open-to-world', drop.urn, /droplet api-api-2 carries no tag the pair's firewall applies to/)
})

test('pair-in-one-spread-group: a server outside the group, a group not of type spread', async () => {
  const rs = await hcloud()
  const s = find(rs, HC('Server'), 'web-2')
  s.props.placementGroupId = 424242
  only(await runPolicies(rs), 'pair-in-one-spread-group', s.urn, /server web-web-2 is not in the pair's placement group web-spread/)
  delete s.props.placementGroupId
  only(await runPolicies(rs), 'pair-in-one-spread-group', s.urn, /not in the pair's placement group/)

  const rs2 = await hcloud()
  const g = find(rs2, HC('PlacementGroup'), 'db-spread')
  g.props.type = 'other'
  only(await runPolicies(rs2), 'pair-in-one-spread-group', g.urn, /type "other", want "spread"/)

  const d = await digitalocean()
  find(d, DO('Droplet'), 'api-2').props.region = 'ams3'
  const pair = find(d, 'hapair:digitalocean:HaPair', 'api')
  only(await runPolicies(d), 'pair-in-one-spread-group', pair.urn, /droplets are in fra1, ams3/)
})

test('pair-in-one-spread-group: in a preview the engine gives the dependency, not the id', async () => {
  const rs = await hcloud()
  const s = find(rs, HC('Server'), 'web-2')
  const own = find(rs, HC('PlacementGroup'), 'web-spread')
  const other = find(rs, HC('PlacementGroup'), 'db-spread')
  delete s.props.placementGroupId
  s.propertyDependencies = { placementGroupId: [own] }
  none(await runPolicies(rs))
  s.propertyDependencies = { placementGroupId: [other] }
  only(await runPolicies(rs), 'pair-in-one-spread-group', s.urn, /not in the pair's placement group web-spread/)
})

test('in a preview: ids and assigned addresses not known yet are skipped, what is known still fails', async () => {
  const rs = await hcloud()
  const numbers = ['placementGroupId', 'serverId', 'floatingIpId', 'networkId']
  const strings = ['id', 'ipv4Address', 'ipv6Network', 'ipAddress', 'ipNetwork']
  for (const r of rs) {
    if (r.type.startsWith('hapair:')) continue
    const p: Record<string, unknown> = { ...r.props }
    for (const k of Object.keys(p)) {
      if (numbers.includes(k)) p[k] = proxy.unknownNumberValue
      if (strings.includes(k)) p[k] = proxy.unknownStringValue
      if (k === 'firewallIds') p[k] = proxy.unknownArrayValue
    }
    r.props = proxy.unknownCheckingProxy(p)
  }
  const fw = find(rs, HC('Firewall'), 'web-fw')
  assert.throws(() => find(rs, HC('Server'), 'web-1').props.placementGroupId, /can't be known during preview/)
  none(await runPolicies(rs))
  fw.props.rules.find((r: any) => r.port === '22').sourceIps.push('::/0')
  only(await runPolicies(rs), 'ssh-not-open-to-world', fw.urn, /opens SSH \(22\) to ::\/0/)
})

test("floating-ip-on-primary: an assignment to the secondary's server, a reserved IP on the secondary's droplet", async () => {
  const rs = await hcloud()
  const a = find(rs, HC('FloatingIpAssignment'), 'vip6')
  a.props.serverId = Number(find(rs, HC('Server'), 'web-2').props.id)
  only(await runPolicies(rs), 'floating-ip-on-primary', a.urn, /assigns its floating IP to another server than the primary's \(web-web-1\)/)

  const d = await digitalocean()
  const ip = find(d, DO('ReservedIp'), 'api-vip')
  ip.props.dropletId = Number(find(d, DO('Droplet'), 'api-2').props.id)
  only(await runPolicies(d), 'floating-ip-on-primary', ip.urn, /reserved IP api-vip is assigned to another droplet than the primary's \(api-api-1\)/)
})

test('floating-ip-on-primary: a floating IP without an assignment; two servers marked primary', async () => {
  const rs = await hcloud()
  const i = rs.findIndex((r) => r.type === HC('FloatingIpAssignment') && r.name === 'db-vip')
  const ip = find(rs, HC('FloatingIp'), 'db-vip')
  rs.splice(i, 1)
  only(await runPolicies(rs), 'floating-ip-on-primary', ip.urn, /floating IP db-vip is assigned to no server/)

  const rs2 = await hcloud()
  find(rs2, HC('Server'), 'web-2').props.labels['hapair-role'] = 'primary'
  only(await runPolicies(rs2), 'floating-ip-on-primary', find(rs2, 'hapair:hcloud:HaPair', 'web').urn, /2 servers are marked primary/)
})

test('sync-traffic-private: a server off the private network, a peer admitted on its public address', async () => {
  const rs = await hcloud()
  const i = rs.findIndex((r) => r.type === HC('ServerNetwork') && r.name === 'web-web-2-private')
  rs.splice(i, 1)
  const s = find(rs, HC('Server'), 'web-2')
  only(await runPolicies(rs), 'sync-traffic-private', s.urn, /server web-web-2 is not attached to the pair's private network web-net/)

  const rs2 = await hcloud()
  const fw = find(rs2, HC('Firewall'), 'db-fw')
  const peer = find(rs2, HC('Server'), 'db-1').props.ipv4Address
  fw.props.rules.push({ direction: 'in', protocol: 'tcp', port: '22', sourceIps: [`${peer}/32`], description: 'ssh between the nodes' })
  only(await runPolicies(rs2), 'sync-traffic-private', fw.urn, new RegExp(`admits the peers' public address ${peer.replace(/\./g, '\\.')}/32`))

  const rs3 = await hcloud()
  rs3.splice(
    rs3.findIndex((r) => r.type === HC('Network') && r.name === 'web-net'),
    1,
  )
  only(await runPolicies(rs3), 'sync-traffic-private', find(rs3, 'hapair:hcloud:HaPair', 'web').urn, /0 private networks in the pair/)
})

test('sync-traffic-private (digitalocean): peers by tag, a droplet outside the VPC', async () => {
  const d = await digitalocean()
  const fw = find(d, DO('Firewall'), 'api-fw')
  fw.props.inboundRules.push({ protocol: 'tcp', portRange: '22', sourceTags: ['hapair-api'] })
  only(await runPolicies(d), 'sync-traffic-private', fw.urn, /admits tag hapair-api: on their public addresses too/)

  const d2 = await digitalocean()
  const drop = find(d2, DO('Droplet'), 'api-1')
  drop.props.vpcUuid = 'default-vpc-of-the-region'
  only(await runPolicies(d2), 'sync-traffic-private', drop.urn, /droplet api-api-1 is not in the pair's VPC/)
})

test.run()
