// The lab's pure rules: names, addresses, overlap, relocation into test slots, tool checks.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { InputError } from '../../lib/errors.ts'
import { loadInventory, parseInventory } from '../../lib/inventory/load.ts'
import {
  bridgeNs,
  cidrOverlap,
  isLabNamespace,
  labPlan,
  MAX_IFNAME,
  nodeNs,
  nodePort,
  parseCidr,
  relocateInventory,
  rootVeth,
  shortId,
  intToIp,
} from '../../lib/lab/plan.ts'
import { missingToolsMessage } from '../../lib/lab/tools.ts'
import { svcScript } from '../../lib/lab/services.ts'
import { utcStamp } from '../../lib/lab/data.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const demo = () => loadInventory(path.join(root, 'inventory/lab.json'))
const demoJson = () => JSON.parse(JSON.stringify(demo().data))

test('names: namespaces per node, short hashed interface names', () => {
  const rows: [string, string][] = [
    [nodeNs('demo', 'node-a'), 'hp-demo-node-a'],
    [bridgeNs('demo'), 'hp-demo-br'],
    [shortId('demo'), '89e495'],
    [rootVeth('demo'), 'hp89e495c'],
    [nodePort('demo', 0), 'hp89e495n0'],
    [nodePort('t3', 12), `hp${shortId('t3')}n12`],
  ]
  for (const [got, want] of rows) assert.is(got, want)
  assert.match(shortId('a-very-long-lab-name-that-would-never-fit'), /^[0-9a-f]{6}$/)
  assert.is.not(shortId('t1'), shortId('t2'))
})

test('plan of the demo inventory', () => {
  const p = labPlan(demo())
  assert.is(p.lab, 'demo')
  assert.is(p.subnet, '198.51.100.0/27')
  assert.is(p.prefix, 27)
  assert.equal(
    p.nodes.map((n) => [n.name, n.ns, n.address, n.iface, n.primary, n.sshPort]),
    [
      ['node-a', 'hp-demo-node-a', '198.51.100.11', 'eth0', true, 22],
      ['node-b', 'hp-demo-node-b', '198.51.100.12', 'eth0', false, 22],
    ],
  )
  assert.equal(p.floating, [{ name: 'vip', pair: 'demo', address: '198.51.100.20', prefix: 24, holder: 'node-a', iface: 'eth0' }])
  assert.is(p.stateDir, path.join(root, 'inventory/.lab/demo'))
  assert.is(p.keyFile, path.join(p.stateDir, 'controller_ed25519'))
  assert.equal(p.warnings, [], 'lab.json ssh paths point into the state dir')
  assert.equal(
    p.nodes[0].services.map((s) => [s.name, s.singleton, s.http, s.tcp]),
    [
      ['web', false, [8080], []],
      ['db', true, [], [5432]],
    ],
  )
  for (const n of [p.rootVeth, p.bridgePeer, ...p.nodes.map((x) => x.port)]) assert.ok(n.length <= MAX_IFNAME, n)
})

test('plan refuses an inventory without a lab block, and a VIP on an interface the lab lacks', () => {
  const j = demoJson()
  delete j.lab
  delete j.pairs[0].fencing // fencing "lab" without a lab block is the validator's refusal, tested there
  assert.throws(
    () => labPlan(parseInventory(JSON.stringify(j), '/x/inv.json')),
    (e: unknown) => e instanceof InputError && /no "lab" block/.test((e as Error).message),
  )
  const k = demoJson()
  k.pairs[0].floatingIps[0].interface = 'eth1'
  assert.throws(() => labPlan(parseInventory(JSON.stringify(k), '/x/inv.json')), /interface eth1/)
})

test('cidr parsing and overlap (table)', () => {
  assert.equal(parseCidr('198.51.100.37/27'), { base: parseCidr('198.51.100.32/27').base, prefix: 27 })
  assert.is(intToIp(parseCidr('198.51.100.37/27').base), '198.51.100.32')
  const rows: [string, string, boolean][] = [
    ['198.51.100.0/27', '198.51.100.0/27', true],
    ['198.51.100.0/27', '198.51.100.32/27', false],
    ['198.51.100.0/27', '198.51.100.31', true],
    ['198.51.100.0/27', '198.51.100.32', false],
    ['198.51.100.0/24', '198.51.100.64/27', true],
    ['198.51.100.64/27', '198.51.100.0/24', true],
    ['192.0.2.0/24', '198.51.100.0/27', false],
    ['192.0.2.2', '198.51.100.0/27', false],
    ['10.0.0.0/8', '10.200.1.0/24', true],
    ['0.0.0.0/0', '198.51.100.0/27', true],
    ['127.0.0.0/8', '198.51.100.0/27', false],
  ]
  for (const [a, b, want] of rows) assert.is(cidrOverlap(a, b), want, `${a} vs ${b}`)
  for (const bad of ['198.51.100/24', '198.51.100.0/33', '300.1.1.1', 'x'])
    assert.throws(
      () => parseCidr(bad),
      (e: unknown) => e instanceof InputError,
      bad,
    )
})

test('relocation into slot k moves every address, the lab name and its paths', () => {
  for (const k of [1, 3, 7]) {
    const r = relocateInventory(demoJson(), k)
    const b = 32 * k
    assert.is(r.lab.name, `t${k}`)
    assert.is(r.lab.subnet, `198.51.100.${b}/27`)
    assert.is(r.lab.controller, `198.51.100.${b + 1}`)
    assert.equal(
      r.pairs[0].nodes.map((n: any) => n.address),
      [`198.51.100.${b + 11}`, `198.51.100.${b + 12}`],
    )
    assert.is(r.pairs[0].floatingIps[0].address, `198.51.100.${b + 20}`)
    assert.is(r.pairs[0].floatingIps[0].prefix, 24)
    assert.is(r.pairs[0].networks[0].cidr, `198.51.100.${b}/27`)
    assert.is(r.pairs[0].networks[0].gateway, `198.51.100.${b + 1}`)
    assert.equal(
      r.pairs[0].preconditions.endpoints.map((e: any) => e.host),
      [`198.51.100.${b + 1}`, `198.51.100.${b + 20}`],
    )
    assert.is(r.defaults.ssh.keyFile, `.lab/t${k}/controller_ed25519`)
    assert.is(r.defaults.ssh.knownHostsFile, `.lab/t${k}/known_hosts`)
    assert.is(r.pairs[0].name, 'demo', 'only the lab is renamed')
    // Still a valid inventory, and its plan lives in its own slot.
    const p = labPlan(parseInventory(JSON.stringify(r), `/tmp/x${k}/lab.json`))
    assert.is(p.stateDir, `/tmp/x${k}/.lab/t${k}`)
    assert.equal(p.warnings, [])
    assert.not.ok(cidrOverlap(p.subnet, '198.51.100.0/27'), 'never collides with the demo lab')
  }
  assert.is(JSON.stringify(relocateInventory(demoJson(), 0)), JSON.stringify(demoJson()), 'slot 0 is the demo itself')
  const far = demoJson()
  far.pairs[0].nodes[0].address = '198.51.100.40'
  assert.throws(() => relocateInventory(far, 2), /outside slot 0/)
  assert.throws(() => relocateInventory(demoJson(), 8), /slot must be/)
  // Not an address of 198.51.100.0/24: untouched.
  const other = demoJson()
  other.pairs[0].description = 'see 10.198.51.100.5 and 198.51.100.2500'
  assert.is(relocateInventory(other, 1).pairs[0].description, other.pairs[0].description)
})

test('leftover namespaces: the lab prefix, but not a longer-named lab that shares it', () => {
  const all = ['hp-demo-br', 'hp-demo-node-a', 'hp-demo-x-br', 'hp-demo-x-node-a', 'hp-demox-br', 'other']
  const rows: [string, string, boolean][] = [
    ['demo', 'hp-demo-br', true],
    ['demo', 'hp-demo-node-a', true],
    ['demo', 'hp-demo-x-node-a', false],
    ['demo', 'hp-demo-x-br', false],
    ['demo', 'hp-demox-br', false],
    ['demo', 'other', false],
    ['demo-x', 'hp-demo-x-node-a', true],
    ['demo-x', 'hp-demo-node-a', false],
  ]
  for (const [lab, ns, want] of rows) assert.is(isLabNamespace(lab, ns, all), want, `${lab} / ${ns}`)
  // Without the other lab's bridge there is nothing to tell them apart: a crashed demo's leftover.
  assert.ok(isLabNamespace('demo', 'hp-demo-x-node-a', ['hp-demo-x-node-a']))
})

test('missing tools: one line with the apt-get command', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'hapair-notools-'))
  try {
    const msg = missingToolsMessage(['sshd', 'arping', 'nsenter', 'unshare'], [empty])!
    assert.is(msg, 'lab needs sshd, arping, nsenter, unshare: apt-get install -y openssh-server arping util-linux')
    assert.not.match(msg, /\n/)
  } finally {
    rmSync(empty, { recursive: true })
  }
  assert.is(missingToolsMessage(['sh'], ['/bin', '/usr/bin']), undefined)
})

test('svc control script is valid sh; timestamps are UTC yyyymmdd-HHMMSS', () => {
  const r = spawnSync('sh', ['-n'], { input: svcScript("/opt/it's/node") })
  assert.is(r.status, 0, String(r.stderr))
  assert.match(svcScript("/opt/it's/node"), `NODE='/opt/it'\\''s/node'`)
  assert.is(utcStamp(new Date('2026-03-04T05:06:07.890Z')), '20260304-050607')
})

test.run()
