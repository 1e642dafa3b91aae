// Table-driven: one check function over many inventories. Every invalid case is lab.json with one
// thing broken, and names the exact JSON path and a fragment of the message it must produce.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { InputError } from '../../lib/errors.ts'
import { loadInventory, parseInventory } from '../../lib/inventory/load.ts'
import { schemaProblems, semanticProblems } from '../../lib/inventory/validate.ts'
import { inSubnet, parseCidr, parseIp } from '../../lib/inventory/address.ts'
import type { Inventory } from '../../lib/inventory/schema.ts'

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))
const LAB = here('../../inventory/lab.json')
const FIX = (name: string) => here(`../fixtures/inventories/${name}`)
const lab: Inventory = JSON.parse(readFileSync(LAB, 'utf8'))

/** Input to the loader: a file on disk (text undefined) or text under a file name. */
interface Input {
  file: string
  text?: string
}
const MUTANT = 'mutant/lab.json'

/** lab.json, deep-copied, changed by fn; fn may return a replacement (e.g. a non-object). */
function mutate(fn: (inv: any) => unknown): Input {
  const inv = structuredClone(lab)
  const replaced = fn(inv)
  return { file: MUTANT, text: JSON.stringify(replaced === undefined ? inv : replaced, null, 2) }
}
const raw = (file: string, text: string): Input => ({ file, text })
const onDisk = (file: string): Input => ({ file })

/** A second pair that fits lab.json's subnet without clashing with pair "demo". */
const secondPair = () => ({
  name: 'other',
  primary: 'node-c',
  nodes: [
    { name: 'node-c', address: '198.51.100.13' },
    { name: 'node-d', address: '198.51.100.14' },
  ],
})

/** Runs the loader; returns the problem lines it reported, or [] if the inventory is valid. */
function problemsOf(input: Input): string[] {
  try {
    if (input.text === undefined) loadInventory(input.file)
    else parseInventory(input.text, input.file)
    return []
  } catch (e) {
    if (!(e instanceof InputError)) throw e
    return e.problems
  }
}

const STACK = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m
function noStack(lines: string[]) {
  for (const l of lines) assert.not.match(l, STACK, `stack trace line in output: ${l}`)
}

// ---- valid -----------------------------------------------------------------------------------

const valid: { name: string; input: Input; pairs: number; nodes: number }[] = [
  { name: 'inventory/lab.json', input: onDisk(LAB), pairs: 1, nodes: 2 },
  { name: 'minimal: one pair, two nodes, nothing else', input: onDisk(FIX('minimal.json')), pairs: 1, nodes: 2 },
  { name: 'YAML with IPv6 and floating IPs', input: onDisk(FIX('minimal.yaml')), pairs: 1, nodes: 2 },
  { name: 'hcloud driver + fencing + provision block', input: onDisk(FIX('hcloud.json')), pairs: 1, nodes: 2 },
  { name: 'several pairs in one lab, one with three nodes', input: onDisk(FIX('multi-pair.json')), pairs: 3, nodes: 7 },
  { name: 'lab.json round-tripped through a deep copy', input: mutate(() => undefined), pairs: 1, nodes: 2 },
  {
    name: 'lab.json plus a second pair',
    input: mutate((d) => {
      d.pairs.push(secondPair())
    }),
    pairs: 2,
    nodes: 4,
  },
  {
    name: 'YAML text of the minimal inventory',
    input: raw(
      'inline.yml',
      'version: 1\npairs:\n  - name: p\n    primary: a\n    nodes:\n      - { name: a, address: 192.0.2.1 }\n      - { name: b, address: 192.0.2.2 }\n',
    ),
    pairs: 1,
    nodes: 2,
  },
  { name: 'JSON with a byte-order mark', input: raw('bom.json', '\uFEFF' + readFileSync(FIX('minimal.json'), 'utf8')), pairs: 1, nodes: 2 },
]

for (const c of valid) {
  test(`valid: ${c.name}`, () => {
    const lines = problemsOf(c.input)
    assert.equal(lines, [], lines.join('\n'))
    const inv = c.input.text === undefined ? loadInventory(c.input.file) : parseInventory(c.input.text, c.input.file)
    assert.is(inv.data.pairs.length, c.pairs)
    assert.is(
      inv.data.pairs.reduce((n, p) => n + p.nodes.length, 0),
      c.nodes,
    )
  })
}

// ---- invalid ---------------------------------------------------------------------------------

interface Bad {
  name: string
  input: Input
  path: string | null
  has: string
}
const invalid: Bad[] = [
  // top level
  {
    name: 'missing version',
    input: mutate((d) => {
      delete d.version
    }),
    path: '(root)',
    has: 'missing required property "version"',
  },
  {
    name: 'version 2',
    input: mutate((d) => {
      d.version = 2
    }),
    path: 'version',
    has: 'must be 1 (got 2)',
  },
  {
    name: 'unknown top-level property',
    input: mutate((d) => {
      d.colour = 'blue'
    }),
    path: 'colour',
    has: 'unknown property "colour"',
  },
  {
    name: 'no pairs',
    input: mutate((d) => {
      d.pairs = []
    }),
    path: 'pairs',
    has: 'must NOT have fewer than 1 items',
  },
  { name: 'an array, not an object', input: mutate(() => [1, 2]), path: '(root)', has: 'must be object' },
  // addresses and ports
  {
    name: 'bad ipv4',
    input: mutate((d) => {
      d.pairs[0].nodes[0].address = '198.51.100.300'
    }),
    path: 'pairs/0/nodes/0/address',
    has: 'must match format "ipv4" (got "198.51.100.300")',
  },
  {
    name: 'ipv4 with a leading zero',
    input: mutate((d) => {
      d.pairs[0].nodes[0].address = '198.51.100.011'
    }),
    path: 'pairs/0/nodes/0/address',
    has: 'format "ipv4"',
  },
  {
    name: 'bad ipv6',
    input: mutate((d) => {
      d.pairs[0].nodes[0].address6 = '2001:db8::g1'
    }),
    path: 'pairs/0/nodes/0/address6',
    has: 'must match format "ipv6" (got "2001:db8::g1")',
  },
  {
    name: 'floating IP neither v4 nor v6',
    input: mutate((d) => {
      d.pairs[0].floatingIps[0].address = 'vip.example'
    }),
    path: 'pairs/0/floatingIps/0/address',
    has: 'must match format "ipv4" or "ipv6" (got "vip.example")',
  },
  {
    name: 'port 0',
    input: mutate((d) => {
      d.defaults.ssh.port = 0
    }),
    path: 'defaults/ssh/port',
    has: 'must be >= 1 (got 0)',
  },
  {
    name: 'port 70000',
    input: mutate((d) => {
      d.pairs[0].services[0].checks[0].port = 70000
    }),
    path: 'pairs/0/services/0/checks/0/port',
    has: 'must be <= 65535 (got 70000)',
  },
  {
    name: 'port "22" as a string',
    input: mutate((d) => {
      d.defaults.ssh.port = '22'
    }),
    path: 'defaults/ssh/port',
    has: 'must be integer (got "22")',
  },
  {
    name: 'port 22.5',
    input: mutate((d) => {
      d.defaults.ssh.port = 22.5
    }),
    path: 'defaults/ssh/port',
    has: 'must be integer (got 22.5)',
  },
  // pairs and nodes
  {
    name: 'pair with one node',
    input: mutate((d) => {
      d.pairs[0].nodes.pop()
    }),
    path: 'pairs/0/nodes',
    has: 'must NOT have fewer than 2 items',
  },
  {
    name: 'primary not a member',
    input: mutate((d) => {
      d.pairs[0].primary = 'node-z'
    }),
    path: 'pairs/0/primary',
    has: '"node-z" is not a node of this pair (nodes: node-a, node-b)',
  },
  {
    name: 'duplicate node names',
    input: mutate((d) => {
      d.pairs[0].nodes[1].name = 'node-a'
    }),
    path: 'pairs/0/nodes/1/name',
    has: 'duplicate node name "node-a" (first at pairs/0/nodes/0)',
  },
  {
    name: 'duplicate pair names',
    input: mutate((d) => {
      d.pairs.push({ ...secondPair(), name: 'demo' })
    }),
    path: 'pairs/1/name',
    has: 'duplicate pair name "demo"',
  },
  {
    name: 'node name reused across pairs',
    input: mutate((d) => {
      const p = secondPair()
      p.nodes[0].name = 'node-b'
      p.primary = 'node-b'
      d.pairs.push(p)
    }),
    path: 'pairs/1/nodes/0/name',
    has: 'node name "node-b" is already used at pairs/0/nodes/1',
  },
  {
    name: 'duplicate node address',
    input: mutate((d) => {
      d.pairs[0].nodes[1].address = '198.51.100.11'
    }),
    path: 'pairs/0/nodes/1/address',
    has: 'address 198.51.100.11 is already used by pairs/0/nodes/0/address',
  },
  {
    name: 'node address reused in another pair',
    input: mutate((d) => {
      const p = secondPair()
      p.nodes[1].address = '198.51.100.12'
      d.pairs.push(p)
    }),
    path: 'pairs/1/nodes/1/address',
    has: 'already used by pairs/0/nodes/1/address',
  },
  {
    name: 'upper-case pair name',
    input: mutate((d) => {
      d.pairs[0].name = 'Demo'
    }),
    path: 'pairs/0/name',
    has: 'must match pattern',
  },
  {
    name: 'unknown property inside a node (typo)',
    input: mutate((d) => {
      d.pairs[0].nodes[0].adress = '198.51.100.11'
    }),
    path: 'pairs/0/nodes/0/adress',
    has: 'unknown property "adress" (did you mean "address"?',
  },
  {
    name: 'node without address',
    input: mutate((d) => {
      delete d.pairs[0].nodes[1].address
    }),
    path: 'pairs/0/nodes/1',
    has: 'missing required property "address"',
  },
  // floating IPs and drivers
  {
    name: 'floating IP equal to a node address',
    input: mutate((d) => {
      d.pairs[0].floatingIps[0].address = '198.51.100.12'
    }),
    path: 'pairs/0/floatingIps/0/address',
    has: "is a node's own address (pairs/0/nodes/1/address)",
  },
  {
    name: 'floating IPv6 equal to a node address6, spelled differently',
    input: mutate((d) => {
      d.pairs[0].nodes[0].address6 = '2001:db8::11'
      d.pairs[0].floatingIps.push({ address: '2001:db8:0:0::11', driver: 'linux' })
    }),
    path: 'pairs/0/floatingIps/1/address',
    has: "is a node's own address (pairs/0/nodes/0/address6)",
  },
  {
    name: 'duplicate floating IP',
    input: mutate((d) => {
      d.pairs[0].floatingIps.push({ name: 'vip2', address: '198.51.100.20', driver: 'linux' })
    }),
    path: 'pairs/0/floatingIps/1/address',
    has: 'duplicate floating IP 198.51.100.20 (first at pairs/0/floatingIps/0/address)',
  },
  {
    name: 'floating IP used by two pairs',
    input: mutate((d) => {
      d.pairs.push({ ...secondPair(), floatingIps: [{ address: '198.51.100.20', driver: 'linux' }] })
    }),
    path: 'pairs/1/floatingIps/0/address',
    has: 'duplicate floating IP',
  },
  {
    name: 'IPv4 floating IP with prefix 33',
    input: mutate((d) => {
      d.pairs[0].floatingIps[0].prefix = 33
    }),
    path: 'pairs/0/floatingIps/0/prefix',
    has: 'must be at most 32 for an IPv4 address (got 33)',
  },
  {
    name: 'bad driver name',
    input: mutate((d) => {
      d.pairs[0].floatingIps[0].driver = 'keepalived'
    }),
    path: 'pairs/0/floatingIps/0/driver',
    has: 'must be one of "linux", "hcloud", "digitalocean" (got "keepalived")',
  },
  {
    name: 'bad fencing driver',
    input: mutate((d) => {
      d.pairs[0].fencing.driver = 'ipmi'
    }),
    path: 'pairs/0/fencing/driver',
    has: 'must be one of "lab", "hcloud", "digitalocean", "lease", "none" (got "ipmi")',
  },
  {
    name: 'hcloud driver without hcloud block',
    input: mutate((d) => {
      d.pairs[0].nodes.forEach((n: any, i: number) => {
        n.hcloud = { serverId: i + 1 }
      })
      d.pairs[0].floatingIps[0].driver = 'hcloud'
    }),
    path: 'pairs/0/floatingIps/0',
    has: 'driver "hcloud" needs an "hcloud" block with floatingIpId',
  },
  {
    name: 'hcloud driver without serverIds',
    input: mutate((d) => {
      Object.assign(d.pairs[0].floatingIps[0], { driver: 'hcloud', hcloud: { floatingIpId: 1 } })
    }),
    path: 'pairs/0/nodes/0',
    has: 'floating IP driver "hcloud" needs hcloud.serverId on every node',
  },
  {
    name: 'hcloud fencing without serverIds',
    input: mutate((d) => {
      d.pairs[0].fencing = { driver: 'hcloud' }
      d.pairs[0].nodes[0].hcloud = { serverId: 1 }
    }),
    path: 'pairs/0/nodes/1',
    has: 'fencing driver "hcloud" needs hcloud.serverId on every node',
  },
  {
    name: 'hcloud block on a linux floating IP',
    input: mutate((d) => {
      d.pairs[0].floatingIps[0].hcloud = { floatingIpId: 1 }
    }),
    path: 'pairs/0/floatingIps/0/hcloud',
    has: 'only allowed with driver "hcloud" (driver is "linux")',
  },
  {
    name: 'hcloud block on lab fencing',
    input: mutate((d) => {
      d.pairs[0].fencing.hcloud = {}
    }),
    path: 'pairs/0/fencing/hcloud',
    has: 'only allowed with driver "hcloud" (driver is "lab")',
  },
  // sync
  {
    name: 'relative sync path',
    input: mutate((d) => {
      d.pairs[0].sync.items[0].path = 'srv/app'
    }),
    path: 'pairs/0/sync/items/0/path',
    has: 'must be an absolute path (starting with /) without control characters (got "srv/app")',
  },
  {
    name: 'sync path with ..',
    input: mutate((d) => {
      d.pairs[0].sync.items[1].path = '/srv/config/../../etc'
    }),
    path: 'pairs/0/sync/items/1/path',
    has: 'must not contain ".."',
  },
  {
    name: 'sync path "/"',
    input: mutate((d) => {
      d.pairs[0].sync.items[1].path = '/'
    }),
    path: 'pairs/0/sync/items/1/path',
    has: 'must not be the root directory',
  },
  {
    name: 'sync path "/./" is the root too',
    input: mutate((d) => {
      d.pairs[0].sync.items[1].path = '/./'
    }),
    path: 'pairs/0/sync/items/1/path',
    has: 'must not be the root directory',
  },
  {
    name: 'sync item nested in another',
    input: mutate((d) => {
      d.pairs[0].sync.items[1].path = '/srv/app/config'
    }),
    path: 'pairs/0/sync/items/1/path',
    has: 'overlaps sync item "app"',
  },
  {
    name: 'protect path outside its item',
    input: mutate((d) => {
      d.pairs[0].sync.items[0].protect = ['/srv/application/local']
    }),
    path: 'pairs/0/sync/items/0/protect/0',
    has: "must be inside the item's path /srv/app",
  },
  {
    name: 'protect path equal to its item',
    input: mutate((d) => {
      d.pairs[0].sync.items[0].protect = ['/srv/app/']
    }),
    path: 'pairs/0/sync/items/0/protect/0',
    has: "must be inside the item's path",
  },
  {
    name: 'bad policy',
    input: mutate((d) => {
      d.pairs[0].sync.items[0].policy = 'newest'
    }),
    path: 'pairs/0/sync/items/0/policy',
    has: 'must be one of "equal", "upgrade", "downgrade", "always" (got "newest")',
  },
  {
    name: 'bad transport',
    input: mutate((d) => {
      d.pairs[0].sync.items[0].transport = 'scp'
    }),
    path: 'pairs/0/sync/items/0/transport',
    has: 'must be one of "rsync", "sftp" (got "scp")',
  },
  {
    name: 'duplicate sync item names',
    input: mutate((d) => {
      d.pairs[0].sync.items[1].name = 'app'
    }),
    path: 'pairs/0/sync/items/1/name',
    has: 'duplicate sync item name "app" (first at pairs/0/sync/items/0)',
  },
  {
    name: 'version source with both file and command',
    input: mutate((d) => {
      d.pairs[0].sync.items[0].version.command = 'app --version'
    }),
    path: 'pairs/0/sync/items/0/version',
    has: 'must name exactly one of "file" or "command" (got both)',
  },
  {
    name: 'software version source with neither',
    input: mutate((d) => {
      d.pairs[0].software = {}
    }),
    path: 'pairs/0/software',
    has: '(got neither)',
  },
  // services and checks
  {
    name: 'http check without port',
    input: mutate((d) => {
      delete d.pairs[0].services[0].checks[0].port
    }),
    path: 'pairs/0/services/0/checks/0',
    has: 'an http check needs "port"',
  },
  {
    name: 'tcp check without port',
    input: mutate((d) => {
      delete d.pairs[0].services[1].checks[0].port
    }),
    path: 'pairs/0/services/1/checks/0',
    has: 'a tcp check needs "port"',
  },
  {
    name: 'command check without command',
    input: mutate((d) => {
      delete d.pairs[0].services[1].checks[1].command
    }),
    path: 'pairs/0/services/1/checks/1',
    has: 'a command check needs "command"',
  },
  {
    name: 'http-only fields on a tcp check',
    input: mutate((d) => {
      Object.assign(d.pairs[0].services[1].checks[0], { path: '/', expectStatus: 200 })
    }),
    path: 'pairs/0/services/1/checks/0/path',
    has: '"path", "expectStatus" only apply to http checks (protocol is "tcp")',
  },
  {
    name: 'tcp-only fields on an http check',
    input: mutate((d) => {
      d.pairs[0].services[0].checks[0].send = 'x'
    }),
    path: 'pairs/0/services/0/checks/0/send',
    has: '"send" only applies to tcp checks (protocol is "http")',
  },
  {
    name: 'bad check protocol',
    input: mutate((d) => {
      d.pairs[0].services[0].checks[0].protocol = 'snmp'
    }),
    path: 'pairs/0/services/0/checks/0/protocol',
    has: 'must be one of "http", "tcp", "command" (got "snmp")',
  },
  {
    name: 'service without checks',
    input: mutate((d) => {
      d.pairs[0].services[0].checks = []
    }),
    path: 'pairs/0/services/0/checks',
    has: 'must NOT have fewer than 1 items',
  },
  {
    name: 'duplicate service names',
    input: mutate((d) => {
      d.pairs[0].services[1].name = 'web'
    }),
    path: 'pairs/0/services/1/name',
    has: 'duplicate service name "web"',
  },
  // backups, logs
  {
    name: 'bad regex in errorLogs',
    input: mutate((d) => {
      d.pairs[0].errorLogs[0].patterns.push('ERROR (unclosed')
    }),
    path: 'pairs/0/errorLogs/0/patterns/3',
    has: 'invalid regular expression: Unterminated group (got "ERROR (unclosed")',
  },
  {
    name: 'bad regex in errorLogs ignore',
    input: mutate((d) => {
      d.pairs[0].errorLogs[0].ignore = ['[z-a]']
    }),
    path: 'pairs/0/errorLogs/0/ignore/0',
    has: 'invalid regular expression',
  },
  {
    name: 'minBytes > maxBytes',
    input: mutate((d) => {
      d.pairs[0].backups[0].minBytes = 2e8
    }),
    path: 'pairs/0/backups/0/minBytes',
    has: 'must not exceed maxBytes (200000000 > 104857600)',
  },
  {
    name: 'maxAgeHours 0',
    input: mutate((d) => {
      d.pairs[0].backups[0].maxAgeHours = 0
    }),
    path: 'pairs/0/backups/0/maxAgeHours',
    has: 'must be > 0 (got 0)',
  },
  // networks and lab
  {
    name: 'gateway outside its network cidr',
    input: mutate((d) => {
      d.pairs[0].networks[0].gateway = '198.51.100.33'
    }),
    path: 'pairs/0/networks/0/gateway',
    has: '198.51.100.33 is not inside 198.51.100.0/27',
  },
  {
    name: 'IPv6 gateway outside its network',
    input: mutate((d) => {
      d.pairs[0].networks.push({ name: 'v6', cidr: '2001:db8:1::/64', gateway: '2001:db8:2::1' })
    }),
    path: 'pairs/0/networks/1/gateway',
    has: 'is not inside 2001:db8:1::/64',
  },
  {
    name: 'network cidr with prefix /33',
    input: mutate((d) => {
      d.pairs[0].networks[0].cidr = '198.51.100.0/33'
    }),
    path: 'pairs/0/networks/0/cidr',
    has: 'not a valid IPv4 or IPv6 network (got "198.51.100.0/33")',
  },
  {
    name: 'provision adminNetworks not a network',
    input: mutate((d) => {
      d.pairs[0].provision = { provider: 'hcloud', serverType: 'cx22', image: 'debian-12', location: 'fsn1', adminNetworks: ['999.0.0.0/8'] }
    }),
    path: 'pairs/0/provision/adminNetworks/0',
    has: 'not a valid IPv4 or IPv6 network',
  },
  {
    name: 'provision without adminNetworks',
    input: mutate((d) => {
      d.pairs[0].provision = { provider: 'hcloud', serverType: 'cx22', image: 'debian-12', location: 'fsn1' }
    }),
    path: 'pairs/0/provision',
    has: 'missing required property "adminNetworks"',
  },
  {
    name: 'lab controller outside subnet',
    input: mutate((d) => {
      d.lab.controller = '198.51.100.99'
    }),
    path: 'lab/controller',
    has: '198.51.100.99 is not inside the lab subnet 198.51.100.0/27',
  },
  {
    name: 'node outside lab subnet',
    input: mutate((d) => {
      d.pairs[0].nodes[1].address = '198.51.100.40'
    }),
    path: 'pairs/0/nodes/1/address',
    has: 'is not inside the lab subnet 198.51.100.0/27',
  },
  {
    name: 'private address outside lab subnet',
    input: mutate((d) => {
      d.pairs[0].nodes[1].privateAddress = '10.0.1.11'
    }),
    path: 'pairs/0/nodes/1/privateAddress',
    has: '10.0.1.11 is not inside the lab subnet 198.51.100.0/27 (the lab has one link)',
  },
  {
    name: 'private address not an IPv4 address',
    input: mutate((d) => {
      d.pairs[0].nodes[1].privateAddress = 'fd00::1'
    }),
    path: 'pairs/0/nodes/1/privateAddress',
    has: 'ipv4',
  },
  {
    name: 'node on the lab controller address',
    input: mutate((d) => {
      d.pairs[0].nodes[1].address = '198.51.100.1'
    }),
    path: 'pairs/0/nodes/1/address',
    has: "is the lab controller's address",
  },
  {
    name: 'node on the lab broadcast address',
    input: mutate((d) => {
      d.pairs[0].nodes[1].address = '198.51.100.31'
    }),
    path: 'pairs/0/nodes/1/address',
    has: 'network or broadcast address',
  },
  {
    name: 'lab subnet not a subnet',
    input: mutate((d) => {
      d.lab.subnet = 'abc/24'
    }),
    path: 'lab/subnet',
    has: 'must be an IPv4 subnet between /8 and /30 (got "abc/24")',
  },
  {
    name: 'lab subnet /31',
    input: mutate((d) => {
      d.lab.subnet = '198.51.100.0/31'
    }),
    path: 'lab/subnet',
    has: 'between /8 and /30',
  },
  // files and syntax
  { name: 'not JSON at all', input: onDisk(FIX('not-json.json')), path: '(root)', has: 'not valid JSON' },
  { name: 'JSON with a trailing comma, located', input: raw('trailing.json', '{\n  "version": 1,\n}\n'), path: '(root)', has: 'line 3, column 1' },
  { name: 'empty JSON file', input: raw('empty.json', ''), path: '(root)', has: 'not valid JSON: the file is empty' },
  { name: 'YAML parse error', input: onDisk(FIX('broken.yaml')), path: '(root)', has: 'not valid YAML' },
  {
    name: 'YAML duplicate key',
    input: raw('dup.yaml', 'version: 1\nversion: 1\npairs: []\n'),
    path: 'version',
    has: 'duplicate key "version" (lines 1 and 2)',
  },
  {
    name: 'YAML with a string port',
    input: raw(
      'port.yaml',
      'version: 1\ndefaults: { ssh: { port: "22" } }\npairs:\n  - name: p\n    primary: a\n    nodes:\n      - { name: a, address: 192.0.2.1 }\n      - { name: b, address: 192.0.2.2 }\n',
    ),
    path: 'defaults/ssh/port',
    has: 'must be integer (got "22")',
  },
  { name: 'file not found', input: onDisk('/nonexistent/hapair/inventory.json'), path: null, has: 'cannot read inventory: no such file' },
  { name: 'a directory, not a file', input: onDisk(here('../fixtures/inventories')), path: null, has: 'cannot read inventory' },
]

for (const c of invalid) {
  test(`invalid: ${c.name}`, () => {
    const lines = problemsOf(c.input)
    assert.ok(lines.length > 0, 'expected a problem, the inventory was accepted')
    const prefix = c.path === null ? `${c.input.file}: ` : `${c.input.file}: ${c.path}: `
    for (const l of lines) assert.ok(l.startsWith(`${c.input.file}: `), `line without the file name prefix: ${l}`)
    assert.ok(
      lines.some((l) => l.startsWith(prefix) && l.includes(c.has)),
      `expected "${prefix}…${c.has}…" among:\n${lines.join('\n')}`,
    )
    noStack(lines)
  })
}

// ---- every problem at once -------------------------------------------------------------------

test('all problems are reported at once, schema and semantic together', () => {
  const input = mutate((d) => {
    d.version = 2 // schema
    d.pairs[0].nodes[0].address = '198.51.100.300' // schema
    d.pairs[0].sync.items[0].policy = 'newest' // schema
    d.pairs[0].primary = 'node-z' // semantic
    d.pairs[0].sync.items[1].name = 'app' // semantic
    d.pairs[0].backups[0].minBytes = 2e8 // semantic
  })
  const lines = problemsOf(input)
  const expected = [
    'version: must be 1',
    'pairs/0/nodes/0/address: must match format "ipv4"',
    'pairs/0/sync/items/0/policy: must be one of',
    'pairs/0/primary: "node-z" is not a node',
    'pairs/0/sync/items/1/name: duplicate sync item name',
    'pairs/0/backups/0/minBytes: must not exceed maxBytes',
  ]
  for (const e of expected)
    assert.ok(
      lines.some((l) => l.startsWith(`${MUTANT}: ${e}`)),
      `missing "${e}" among:\n${lines.join('\n')}`,
    )
  assert.is(lines.length, expected.length, lines.join('\n'))
})

test('a semantic rule does not judge a value the schema already rejected', () => {
  // 198.51.100.300 is not an address: "not inside the lab subnet" would only repeat the schema's line.
  const lines = problemsOf(
    mutate((d) => {
      d.pairs[0].nodes[1].address = '198.51.100.300'
    }),
  )
  assert.equal(lines, [`${MUTANT}: pairs/0/nodes/1/address: must match format "ipv4" (got "198.51.100.300")`])
  // An unknown protocol decides nothing about which fields the check may have.
  const proto = problemsOf(
    mutate((d) => {
      d.pairs[0].services[0].checks[0].protocol = 'snmp'
    }),
  )
  assert.is(proto.length, 1, proto.join('\n'))
})

test('InputError message: a count, then one line per problem', () => {
  const input = mutate((d) => {
    d.version = 2
    d.pairs[0].primary = 'x'
  })
  try {
    parseInventory(input.text!, input.file)
    assert.unreachable('accepted')
  } catch (e) {
    assert.instance(e, InputError)
    const err = e as InputError
    assert.is(err.exitCode, 2)
    assert.is(err.message.split('\n')[0], `${MUTANT}: invalid inventory (2 problems)`)
    assert.equal(err.message.split('\n').slice(1), err.problems)
    noStack(err.message.split('\n'))
  }
})

test('schemaProblems and semanticProblems keep their shape', () => {
  assert.equal(schemaProblems(lab), [])
  assert.equal(semanticProblems(lab), [])
  assert.equal(schemaProblems({ version: 1 }), [{ path: '(root)', message: 'missing required property "pairs"' }])
})

test(`the table covers at least 30 invalid inventories (has ${invalid.length})`, () => {
  assert.ok(invalid.length >= 30)
  assert.is(new Set(invalid.map((c) => c.name)).size, invalid.length, 'case names must be unique')
})

// ---- address helpers -------------------------------------------------------------------------

const subnets: [string, string, boolean][] = [
  ['198.51.100.11', '198.51.100.0/27', true],
  ['198.51.100.32', '198.51.100.0/27', false],
  ['10.1.2.3', '0.0.0.0/0', true],
  ['10.1.2.3', '10.1.2.3/32', true],
  ['10.1.2.4', '10.1.2.3/32', false],
  ['2001:db8::5', '2001:db8::/32', true],
  ['2001:db9::5', '2001:db8::/32', false],
  ['::ffff:192.0.2.1', '::ffff:0:0/96', true],
  ['192.0.2.1', '2001:db8::/32', false],
  ['192.0.2.1', 'nonsense/24', false],
]
for (const [addr, cidr, want] of subnets) test(`inSubnet(${addr}, ${cidr}) is ${want}`, () => assert.is(inSubnet(addr, cidr), want))

test('parseIp: one value per address, whatever the spelling', () => {
  assert.equal(parseIp('2001:db8::1'), parseIp('2001:DB8:0:0:0:0:0:1'))
  assert.equal(parseIp('::ffff:1.2.3.4'), parseIp('::ffff:102:304'))
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '1.2.3', '256.0.0.1', '01.2.3.4', '', 'x']) assert.is(parseIp(bad), undefined, bad)
  assert.is(parseCidr('198.51.100.0/33'), undefined)
  assert.is(parseCidr('::/129'), undefined)
  assert.ok(parseCidr('::/0'))
})

test.run()
