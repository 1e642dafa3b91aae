// The linux driver against real kernels: start and stop are idempotent (IPaddr2's "double start",
// "double stop"), status probes every node, an unreachable node reads as unknown.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { SshPool } from '../../lib/ssh.ts'
import { ipDriver } from '../../lib/drivers/index.ts'
import { labFault } from '../../lib/lab/index.ts'
import type { IpDriver } from '../../lib/drivers/types.ts'

let lab: TestLab
let pool: SshPool
let d: IpDriver
const node = (n: string) => lab.inv.data.pairs[0].nodes.find((x) => x.name === n)!
test.before(async () => {
  lab = await startTestLab()
  pool = new SshPool(lab.inv)
  const pair = lab.inv.data.pairs[0]
  d = ipDriver(pair.floatingIps![0], { inv: lab.inv, pair, pool })
})
test.after(async () => { pool?.close(); await lab?.down() })

test('status: the lab puts the address on the primary only', async () => {
  assert.equal(await d.status(), { 'node-a': 'held', 'node-b': 'free' })
})

test('double stop: the second is a no-op', async () => {
  assert.is((await d.stop(node('node-a'))).changed, true)
  assert.is((await d.stop(node('node-a'))).changed, false)
  assert.equal(await d.status(), { 'node-a': 'free', 'node-b': 'free' })
})

test('double start: the second is a no-op, and the neighbours learn the new holder', async () => {
  assert.is((await d.start(node('node-b'))).changed, true)
  assert.is((await d.start(node('node-b'))).changed, false)
  assert.equal(await d.status(), { 'node-a': 'free', 'node-b': 'held' })
  const r = await lab.exec('node-a', ['sh', '-c', `sleep 0.3; ip neigh show ${d.fip.address}`])
  const mac = (await lab.exec('node-b', ['cat', '/sys/class/net/eth0/address'])).stdout.trim()
  assert.ok(r.stdout.includes(mac) || r.stdout.trim() === '', `node-a's neighbour entry for the VIP is node-b's MAC or absent: ${r.stdout}`)
})

test('an isolated node reads as unknown, and stop on it fails as unreachable', async () => {
  await labFault(lab.inv, 'isolate', 'node-a')
  try {
    const fresh = new SshPool(lab.inv)
    const pair = lab.inv.data.pairs[0]
    const d2 = ipDriver(pair.floatingIps![0], { inv: lab.inv, pair, pool: fresh })
    assert.equal(await d2.status(), { 'node-a': 'unknown', 'node-b': 'held' })
    try {
      await d2.stop(node('node-a'))
      assert.unreachable('stop on an unreachable node must fail')
    } catch (e: any) {
      assert.ok(e.unreachable, e.message)
    } finally { fresh.close() }
  } finally {
    await labFault(lab.inv, 'heal', 'node-a')
  }
})

test('describe names the commands for a dry run', () => {
  assert.match(d.describe('start', node('node-b')).join('\n'), /ip addr add .* dev eth0/)
  assert.match(d.describe('stop', node('node-a')).join('\n'), /ip addr del .* dev eth0/)
})

test.run()
