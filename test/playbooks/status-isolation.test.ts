// status on a real lab of two pairs: one node that cannot be trusted (its host key no longer
// matches the pin) or one pair that cannot be observed at all never hides the other nodes or
// pairs: they are reported in full, and the exit code says "degraded" (1).
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LabFenceDriver } from '../../lib/drivers/fence-lab.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'

let lab: TestLab
test.before(async () => {
  lab = await startTestLab({
    mutate: (j) => {
      // A second pair beside the demo pair, same shape, its own nodes and address (slot-0 addresses: relocated).
      const second = structuredClone(j.pairs[0])
      second.name = 'second'
      second.primary = 'node-c'
      second.nodes = [
        { name: 'node-c', address: '198.51.100.13', interface: 'eth0' },
        { name: 'node-d', address: '198.51.100.14', interface: 'eth0' },
      ]
      second.floatingIps = [{ name: 'vip2', address: '198.51.100.21', prefix: 24, driver: 'linux', interface: 'eth0' }]
      j.pairs.push(second)
    },
  })
})
test.after(async () => {
  await lab?.down()
})

/** The lab's inventory, edited, next to it (relative paths resolve from its directory). */
function variant(name: string, edit: (j: any) => void): string {
  const j = JSON.parse(readFileSync(lab.file, 'utf8'))
  edit(j)
  const f = path.join(path.dirname(lab.file), name)
  writeFileSync(f, JSON.stringify(j, null, 2))
  return f
}
const pinFile = () => path.resolve(lab.inv.dir, lab.inv.data.defaults!.ssh!.knownHostsFile!)
const addr = (node: string) => lab.inv.data.pairs.flatMap((p) => p.nodes).find((n) => n.name === node)!.address
const status = async (file: string, env: Record<string, string> = {}) => {
  const r = await playbook('status', ['--inventory', file, '--json'], { timeoutMs: 90_000, env })
  return { r, out: json(r) }
}
const pairOf = (out: any, name: string) => out.pairs.find((p: any) => p.name === name)
const nodeOf = (p: any, name: string) => p.nodes.find((n: any) => n.name === name)

/** node-a's pair, as it is when node-a is active and serving: every value observed. */
function assertNodeAFull(demo: any) {
  const a = nodeOf(demo, 'node-a')
  assert.is(a.reachable, true, JSON.stringify(demo))
  assert.equal(a.services, { web: true, db: true })
  assert.is(demo.active, 'node-a')
  assert.equal(
    demo.floatingIps.map((f: any) => f.holders),
    [['node-a']],
    'the VIP is seen on node-a',
  )
}

test("lab fencing can read every node's power state (check before acting)", async () => {
  const pool = new SshPool(lab.inv)
  try {
    for (const pair of lab.inv.data.pairs) assert.equal(await new LabFenceDriver({ inv: lab.inv, pair, pool }).check(), [])
  } finally {
    pool.close()
  }
})

test('healthy: both pairs healthy, exit 0', async () => {
  const { r, out } = await status(lab.file)
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.equal(
    out.pairs.map((p: any) => [p.name, p.degraded]),
    [
      ['demo', false],
      ['second', false],
    ],
  )
})

test('a host-key mismatch on node-b: node-a and the other pair are still reported in full; exit 1', async () => {
  // node-b's pin now carries node-a's key: exactly what a rebuilt or impersonated node looks like.
  const kh = readFileSync(pinFile(), 'utf8').split('\n')
  const aKey = kh
    .find((l) => l.startsWith(addr('node-a') + ' '))!
    .split(' ')
    .slice(1)
    .join(' ')
  const swapped = path.join(path.dirname(lab.file), 'known_hosts.node-b-swapped')
  writeFileSync(swapped, kh.map((l) => (l.startsWith(addr('node-b') + ' ') ? `${addr('node-b')} ${aKey}` : l)).join('\n'))
  const file = variant('mismatch.json', (j) => {
    j.defaults.ssh.knownHostsFile = swapped
  })

  const { r, out } = await status(file)
  assert.is(r.code, 1, r.stdout + r.stderr)
  const demo = pairOf(out, 'demo')
  assert.is(demo.degraded, true)
  assertNodeAFull(demo)
  const b = nodeOf(demo, 'node-b')
  assert.is(b.reachable, false)
  assert.match(b.error, /HOST KEY MISMATCH/)
  assert.equal(b.services, { web: null, db: null })
  assert.ok(
    demo.degradedReasons.some((x: string) => /node-b/.test(x) && /HOST KEY MISMATCH/.test(x)),
    demo.degradedReasons.join('\n'),
  )
  const second = pairOf(out, 'second')
  assert.is(second.degraded, false, second.degradedReasons.join('\n'))
  assert.equal(
    second.nodes.map((n: any) => [n.name, n.reachable]),
    [
      ['node-c', true],
      ['node-d', true],
    ],
  )
})

test('a pair that cannot be observed (its provider has no token): the other pair is still reported in full; exit 1', async () => {
  // Nothing is sent to any API: no token is found, and the API address is a closed loopback port anyway.
  const file = variant('second-broken.json', (j) => {
    const p = j.pairs.find((x: any) => x.name === 'second')
    p.nodes.forEach((n: any, i: number) => {
      n.hcloud = { serverId: 300 + i }
    })
    p.floatingIps = [
      { name: 'vip2', address: p.floatingIps[0].address, driver: 'hcloud', interface: 'eth0', hcloud: { floatingIpId: 7, apiUrl: 'http://127.0.0.1:9/v1' } },
    ]
  })
  const { r, out } = await status(file, { HCLOUD_TOKEN: '' })
  assert.is(r.code, 1, r.stdout + r.stderr)
  const demo = pairOf(out, 'demo')
  assertNodeAFull(demo)
  assert.is(nodeOf(demo, 'node-b').reachable, true)
  assert.is(demo.degraded, false, demo.degradedReasons.join('\n'))
  const second = pairOf(out, 'second')
  assert.is(second.degraded, true)
  assert.ok(
    second.degradedReasons.some((x: string) => /no API token/.test(x)),
    second.degradedReasons.join('\n'),
  )
})

test.run()
