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
test.after(async () => {
  pool?.close()
  await lab?.down()
})

test('status: the lab puts the address on the primary only', async () => {
  assert.equal(await d.status(), { 'node-a': 'held', 'node-b': 'free' })
})

test('double stop: the second is a no-op', async () => {
  assert.is((await d.stop(node('node-a'))).changed, true)
  assert.is((await d.stop(node('node-a'))).changed, false)
  assert.equal(await d.status(), { 'node-a': 'free', 'node-b': 'free' })
})

/** node-a believes a wrong MAC for the VIP, fresh enough to be used; past the neighbour lock time, a gratuitous ARP overrides it. */
async function plantStaleNeighbour() {
  await lab.exec('node-a', ['ip', 'neigh', 'replace', d.fip.address, 'lladdr', '02:00:00:00:00:99', 'dev', 'eth0', 'nud', 'reachable'])
  await new Promise((r) => setTimeout(r, 1100))
}
/** node-a's neighbour entry for the VIP, waited for up to a second: the announcement is sent detached. */
async function neighbourMac(want: string): Promise<string> {
  let seen = ''
  for (let i = 0; i < 20 && seen !== want; i++) {
    seen = /lladdr (\S+)/.exec((await lab.exec('node-a', ['ip', 'neigh', 'show', d.fip.address, 'dev', 'eth0'])).stdout)?.[1] ?? ''
    if (seen !== want) await new Promise((r) => setTimeout(r, 50))
  }
  return seen
}

test('double start: the second is a no-op, and each start announces the new holder to the neighbours', async () => {
  const mac = (await lab.exec('node-b', ['cat', '/sys/class/net/eth0/address'])).stdout.trim()
  // An empty entry would prove nothing: node-a holds a wrong one until the announcement replaces it.
  await plantStaleNeighbour()
  assert.is(await neighbourMac('02:00:00:00:00:99'), '02:00:00:00:00:99', 'the stale entry is in place')
  assert.is((await d.start(node('node-b'))).changed, true)
  assert.is(await neighbourMac(mac), mac, 'node-a learned the VIP is on node-b')
  // Already there is announced again (a re-run after a crash). The first announcer sends twice,
  // a second apart: let it finish, or its late packet would do the second start's work.
  const pidFile = `/run/hapair/garp-${d.fip.address.replace(/\./g, '_')}.pid`
  await lab.exec('node-b', [
    'sh',
    '-c',
    'i=0; while [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.05; i=$((i+1)); done',
    'sh',
    pidFile,
  ])
  await plantStaleNeighbour()
  assert.is((await d.start(node('node-b'))).changed, false)
  assert.is(await neighbourMac(mac), mac, 'the second start announced again')
  assert.equal(await d.status(), { 'node-a': 'free', 'node-b': 'held' })
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
    } finally {
      fresh.close()
    }
  } finally {
    await labFault(lab.inv, 'heal', 'node-a')
  }
})

test('describe names the commands for a dry run', () => {
  assert.match(d.describe('start', node('node-b')).join('\n'), /ip addr add .* dev eth0/)
  assert.match(d.describe('stop', node('node-a')).join('\n'), /ip addr del .* dev eth0/)
})

test.run()
