// import-stack: `pulumi stack output --json` -> resolved inventory, as a user runs it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { exampleCopy } from './fixture.ts'
import { playbook } from '../helpers/playbook.ts'
import { parseStackOutputs, ipv6FloatingHost } from '../../lib/provision/outputs.ts'
import { importStack, serialise } from '../../lib/provision/import.ts'
import { loadInventory } from '../../lib/inventory/load.ts'
import { InputError } from '../../lib/errors.ts'
import { lineDiff } from '../helpers/line-diff.ts'

/** What `pulumi stack output --json` prints for stacks/hcloud over example-hcloud.json. */
const hcloudOutput = {
  pairs: {
    web: {
      provider: 'hcloud',
      nodes: { 'web-1': { id: 51001, ipv4: '203.0.113.11', ipv6: '2001:db8:11::1' }, 'web-2': { id: 51002, ipv4: '203.0.113.12', ipv6: '2001:db8:12::1' } },
      floatingIps: [
        { name: 'vip', id: 7001, address: '198.51.100.10', family: 'ipv4' },
        { name: 'vip6', id: 7002, address: '2001:db8:f0::1', family: 'ipv6' },
      ],
    },
    db: {
      provider: 'hcloud',
      // db's nodes carry their private-network addresses; web's are from a stack older than the private network.
      nodes: { 'db-1': { id: 51003, ipv4: '203.0.113.21', privateIpv4: '10.0.1.10' }, 'db-2': { id: 51004, ipv4: '203.0.113.22', privateIpv4: '10.0.1.11' } },
      floatingIps: [{ name: 'vip', id: 7003, address: '198.51.100.20', family: 'ipv4' }],
    },
  },
}

test('CLI: reads the stack output from stdin, writes the resolved inventory: it validates and carries ids, floating IPs and fencing', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const out = path.join(fx.dir, 'resolved.json')
  const r = await playbook('import-stack', ['--stack-output', '-', '--inventory', fx.file, '--out', out], { input: JSON.stringify(hcloudOutput) })
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stderr, /web\/web-1: address \(none\) -> 203\.0\.113\.11/)
  assert.match(r.stderr, /next: npx zx playbooks\/validate\.ts --inventory /)
  const inv = loadInventory(out)
  const web = inv.data.pairs[0]
  assert.equal(
    web.nodes.map((n) => [n.address, n.hcloud?.serverId]),
    [
      ['203.0.113.11', 51001],
      ['203.0.113.12', 51002],
    ],
  )
  assert.equal(web.floatingIps, [
    { name: 'vip', address: '198.51.100.10', driver: 'hcloud', hcloud: { floatingIpId: 7001 } },
    { name: 'vip6', address: '2001:db8:f0::1', driver: 'hcloud', prefix: 64, hcloud: { floatingIpId: 7002 } },
  ])
  assert.equal(web.fencing, { driver: 'hcloud' })
  assert.equal(
    inv.data.pairs.map((p) => p.nodes.map((n) => n.privateAddress ?? null)),
    [
      [null, null],
      ['10.0.1.10', '10.0.1.11'],
    ],
  )
  assert.match(r.stderr, /db\/db-2: privateAddress \(none\) -> 10\.0\.1\.11/)
  assert.is(JSON.parse(readFileSync(out, 'utf8')).$schema, '../schemas/inventory.schema.json', '$schema kept')
})

test('a re-import of the same outputs changes nothing', () => {
  const fx = exampleCopy('example-hcloud.json')
  const outputs = parseStackOutputs(JSON.stringify(hcloudOutput), 's')
  const first = importStack(fx.inv, outputs, 's')
  assert.ok(first.changes.length > 10)
  writeFileSync(fx.file, serialise(first.inventory.data, fx.file))
  const again = importStack(loadInventory(fx.file), outputs, 's')
  assert.equal(again.changes, [])
  assert.equal(again.inventory.data, first.inventory.data)
})

test('CLI --out onto the inventory itself: only the resolved values change, the layout stays; a re-import is byte-identical', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const before = readFileSync(fx.file, 'utf8')
  const run = (output: unknown) =>
    playbook('import-stack', ['--stack-output', '-', '--inventory', fx.file, '--out', fx.file], { input: JSON.stringify(output) })
  const r = await run(hcloudOutput)
  assert.is(r.code, 0, r.stderr)
  const once = readFileSync(fx.file, 'utf8')
  // The node lines gain their addresses and ids (still one line each); the floating IPs and
  // fencing are added after each pair's last member. No other line of the author's text changes.
  assert.equal(lineDiff(before, once).removed.sort(), [
    '        { "name": "db-1", "provision": { "serverType": "cpx31" } },',
    '        { "name": "db-2", "provision": { "serverType": "cpx31" } }',
    '        { "name": "web-1", "interface": "eth0" },',
    '        { "name": "web-2", "interface": "eth0" }',
  ])
  assert.ok(
    once.includes(
      '        { "name": "web-1", "interface": "eth0", "address": "203.0.113.11", "address6": "2001:db8:11::1", "hcloud": { "serverId": 51001 } },',
    ),
    once,
  )
  assert.is(loadInventory(fx.file).data.pairs[0].nodes[0].address, '203.0.113.11')

  assert.is((await run(hcloudOutput)).code, 0)
  assert.is(readFileSync(fx.file, 'utf8'), once, 'the same outputs again: not a byte changes')

  const moved = JSON.parse(JSON.stringify(hcloudOutput))
  moved.pairs.web.nodes['web-1'].ipv4 = '203.0.113.99'
  assert.is((await run(moved)).code, 0)
  assert.equal(lineDiff(once, readFileSync(fx.file, 'utf8')), {
    removed: [once.split('\n').find((l) => l.includes('"203.0.113.11"'))!],
    added: [
      once
        .split('\n')
        .find((l) => l.includes('"203.0.113.11"'))!
        .replace('203.0.113.11', '203.0.113.99'),
    ],
  })
})

test('re-import into a tab-indented, CRLF inventory: only the changed value differs, tabs and CRLF kept', () => {
  const fx = exampleCopy('example-hcloud.json')
  const outputs = parseStackOutputs(JSON.stringify(hcloudOutput), 's')
  writeFileSync(fx.file, JSON.stringify(importStack(fx.inv, outputs, 's').inventory.data, null, '\t').replace(/\n/g, '\r\n') + '\r\n')
  const before = readFileSync(fx.file, 'utf8')
  const again = importStack(loadInventory(fx.file), outputs, 's')
  assert.is(again.text, before, 'nothing to change: the same bytes')
  const moved = JSON.parse(JSON.stringify(hcloudOutput))
  moved.pairs.db.floatingIps[0].address = '198.51.100.29'
  const r = importStack(loadInventory(fx.file), parseStackOutputs(JSON.stringify(moved), 's'), 's')
  assert.is(r.text, before.replace('"198.51.100.20"', '"198.51.100.29"'))
})

// The example inventory as someone writes it in YAML: comments, flow mappings of both spacings, quoting, blank lines.
const handYaml = `# web and db pairs, reviewed in git
$schema: ../schemas/inventory.schema.json
version: 1
defaults:
  ssh: {user: root, port: 22, keyFile: keys/admin_ed25519, knownHostsFile: keys/known_hosts}

pairs:
  - name: web   # the public front
    primary: web-1
    nodes:
      - { name: web-1, interface: eth0 }   # first
      - {name: web-2, interface: eth0}
    sync:
      items:
        - {name: site, path: /var/www/site, mirror: true}
    provision:
      provider: hcloud
      serverType: cx22
      image: 'debian-12'
      location: fsn1
      sshPublicKeyFile: keys/admin_ed25519.pub
      adminNetworks: [198.51.100.0/24]
      floatingIpv6: true

  - name: db
    primary: db-1
    nodes:
      - name: db-1
        provision: {serverType: cpx31}
      - name: db-2
        provision:
          serverType: cpx31
    provision:
      provider: hcloud
      serverType: cx22
      image: debian-12
      location: fsn1
      sshPublicKeyFile: keys/admin_ed25519.pub
      adminNetworks: ["198.51.100.0/24"]
`

test('CLI --out onto a YAML inventory itself: edited in place (comments, flow mappings, quoting, key order kept); a re-import is byte-identical', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const file = path.join(fx.dir, 'inventory.yaml')
  writeFileSync(file, handYaml)
  const run = (output: unknown) => playbook('import-stack', ['--stack-output', '-', '--inventory', file, '--out', file], { input: JSON.stringify(output) })
  const r = await run(hcloudOutput)
  assert.is(r.code, 0, r.stderr)
  const once = readFileSync(file, 'utf8')
  // The flow node lines gain their values on their own line; block nodes gain lines; nothing else of the author's text changes.
  assert.equal(lineDiff(handYaml, once).removed, ['      - { name: web-1, interface: eth0 }   # first', '      - {name: web-2, interface: eth0}'])
  assert.ok(
    once.includes('      - { name: web-1, interface: eth0, address: 203.0.113.11, address6: 2001:db8:11::1, hcloud: { serverId: 51001 } }   # first\n'),
    once,
  )
  assert.ok(once.includes('      - {name: web-2, interface: eth0, address: 203.0.113.12, address6: 2001:db8:12::1, hcloud: {serverId: 51002}}\n'), once)
  assert.ok(
    once.includes(
      '      - name: db-2\n        provision:\n          serverType: cpx31\n        address: 203.0.113.22\n        hcloud:\n          serverId: 51004\n',
    ),
    once,
  )
  assert.ok(once.includes('      floatingIpv6: true\n    floatingIps:\n      - name: vip\n        address: 198.51.100.10\n        driver: hcloud\n'), once)
  const inv = loadInventory(file)
  assert.equal(inv.data.pairs[0].fencing, { driver: 'hcloud' })
  assert.is(inv.data.pairs[1].nodes[1].hcloud?.serverId, 51004)

  assert.is((await run(hcloudOutput)).code, 0)
  assert.is(readFileSync(file, 'utf8'), once, 'the same outputs again: not a byte changes')

  const moved = JSON.parse(JSON.stringify(hcloudOutput))
  moved.pairs.web.nodes['web-1'].ipv4 = '203.0.113.99'
  moved.pairs.db.floatingIps[0].address = '198.51.100.29'
  assert.is((await run(moved)).code, 0)
  assert.is(readFileSync(file, 'utf8'), once.replace('203.0.113.11', '203.0.113.99').replace('198.51.100.20', '198.51.100.29'))
})

test('a JSON inventory written out as YAML (or the other way round) is written fresh: there is no text of that format to edit', () => {
  const fx = exampleCopy('example-hcloud.json')
  const out = path.join(fx.dir, 'resolved.yaml')
  const r = importStack(fx.inv, parseStackOutputs(JSON.stringify(hcloudOutput), 's'), 's', out)
  assert.is(r.text, serialise(r.inventory.data, out))
})

const badCases: { name: string; output: unknown; out?: () => string; message: RegExp }[] = [
  { name: 'not JSON', output: '{"pairs":', message: /stack\.json: \(root\): not valid JSON/ },
  { name: 'wrong shape, located', output: { pairs: { web: { provider: 'aws', nodes: {}, floatingIps: [] } } }, message: /stack\.json: pairs\/web\/provider: / },
  {
    name: 'bad address',
    output: { pairs: { web: { ...hcloudOutput.pairs.web, nodes: { ...hcloudOutput.pairs.web.nodes, 'web-2': { id: 5, ipv4: 'nope' } } } } },
    message: /pairs\/web\/nodes\/web-2\/ipv4: not an IPv4 address/,
  },
  {
    name: 'bad private address',
    output: {
      pairs: { web: { ...hcloudOutput.pairs.web, nodes: { ...hcloudOutput.pairs.web.nodes, 'web-2': { id: 5, ipv4: '203.0.113.5', privateIpv4: '10.0.1' } } } },
    },
    message: /pairs\/web\/nodes\/web-2\/privateIpv4: not an IPv4 address \(got "10\.0\.1"\)/,
  },
  {
    name: 'a node missing',
    output: { pairs: { web: { ...hcloudOutput.pairs.web, nodes: { 'web-1': hcloudOutput.pairs.web.nodes['web-1'] } } } },
    message: /pairs\/web\/nodes: no output for node web-2 of pair web/,
  },
  { name: 'unknown pair', output: { pairs: { mail: hcloudOutput.pairs.web } }, message: /pairs\/mail: the inventory .* has no pair "mail"/ },
  {
    name: 'provider mismatch',
    output: { pairs: { web: { ...hcloudOutput.pairs.web, provider: 'digitalocean' } } },
    message: /provider is "digitalocean" but the inventory's pair web has provision.provider "hcloud"/,
  },
  { name: 'no pairs', output: { pairs: {} }, message: /the stack has no pairs/ },
  {
    name: '--out in another directory',
    output: hcloudOutput,
    out: () => path.join(mkdtempSync(path.join(tmpdir(), 'hapair-other-')), 'x.json'),
    message: /must be in the inventory's directory/,
  },
]
for (const c of badCases) {
  test(`bad stack output: ${c.name}: InputError (exit 2), located`, () => {
    const fx = exampleCopy('example-hcloud.json')
    try {
      importStack(fx.inv, parseStackOutputs(typeof c.output === 'string' ? c.output : JSON.stringify(c.output), 'stack.json'), 'stack.json', c.out?.())
      assert.unreachable('should fail')
    } catch (e) {
      assert.instance(e, InputError)
      assert.match((e as Error).message, c.message)
    }
  })
}

test('CLI: a bad stack output exits 2 and writes nothing', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const before = readFileSync(fx.file, 'utf8')
  const r = await playbook('import-stack', ['--stack-output', '-', '--inventory', fx.file, '--out', fx.file], {
    input: JSON.stringify({ pairs: { web: { ...hcloudOutput.pairs.web, provider: 'digitalocean' } } }),
  })
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /\(stdin\): pairs\/web: provider is "digitalocean"/)
  assert.is(readFileSync(fx.file, 'utf8'), before)
  assert.not.ok(
    readdirSync(fx.dir).some((f) => f.includes('.tmp-')),
    'no temporary file left',
  )
})

test('re-import keeps what the operator added: interface, credentials, linux addresses; drops floating IPs the stack no longer has', () => {
  const fx = exampleCopy('example-hcloud.json')
  const first = importStack(fx.inv, parseStackOutputs(JSON.stringify(hcloudOutput), 's'), 's').inventory
  const data = JSON.parse(JSON.stringify(first.data))
  data.pairs[0].floatingIps[0].interface = 'eth1'
  data.pairs[0].floatingIps[0].hcloud.apiUrl = 'http://127.0.0.1:9/v1'
  data.pairs[0].floatingIps.push({ name: 'lan', address: '10.0.0.50', driver: 'linux' })
  data.pairs[0].fencing = { driver: 'hcloud', hcloud: { tokenFile: 'secrets/hcloud.token' } }
  writeFileSync(fx.file, JSON.stringify(data))
  const edited = loadInventory(fx.file)
  const noV6 = { pairs: { web: { ...hcloudOutput.pairs.web, floatingIps: [hcloudOutput.pairs.web.floatingIps[0]] } } }
  const r = importStack(edited, parseStackOutputs(JSON.stringify(noV6), 's'), 's')
  const web = r.inventory.data.pairs[0]
  assert.equal(web.floatingIps, [
    { name: 'vip', address: '198.51.100.10', driver: 'hcloud', interface: 'eth1', hcloud: { apiUrl: 'http://127.0.0.1:9/v1', floatingIpId: 7001 } },
    { name: 'lan', address: '10.0.0.50', driver: 'linux' },
  ])
  assert.equal(web.fencing, { driver: 'hcloud', hcloud: { tokenFile: 'secrets/hcloud.token' } })
  assert.ok(r.changes.includes('web: floating IP vip6 removed (not in the stack any more)'), r.changes.join('\n'))
  assert.ok(r.warnings.includes("db: not in this stack's outputs: left unchanged"), r.warnings.join('\n'))
})

test('fencing "none" is kept, with a warning', () => {
  const fx = exampleCopy('example-hcloud.json')
  const inv = fx.edit((d) => {
    d.pairs[0].fencing = { driver: 'none' }
  })
  const r = importStack(inv, parseStackOutputs(JSON.stringify(hcloudOutput), 's'), 's')
  assert.equal(r.inventory.data.pairs[0].fencing, { driver: 'none' })
  assert.ok(r.warnings.some((w) => /web: fencing is "none"/.test(w)))
})

test('ipv6FloatingHost: the ::1 of a floating /64', () => {
  assert.is(ipv6FloatingHost('2001:db8:f0::/64'), '2001:db8:f0::1')
  assert.is(ipv6FloatingHost('2001:db8:f0::'), '2001:db8:f0::1')
  assert.is(ipv6FloatingHost('2001:db8:f0::5'), '2001:db8:f0::5')
})

test.run()
