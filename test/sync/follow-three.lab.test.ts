// The follower on a three-node pair: every change on the active node reaches both standbys, and a
// standby that is cut off holds back nobody else: the other keeps receiving while it is away,
// and it catches up (with its own in-flight share) once it is back.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { labFault } from '../../lib/lab/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { startFollowChild, type FollowChild } from './_follow.ts'
import { loud, script } from './_lab.ts'

let lab: TestLab
let f: FollowChild | undefined
const STANDBYS = ['node-b', 'node-c']

async function until(what: string, fn: () => Promise<boolean>, ms = 20_000, every = 50) {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, every))
  }
}
const sum = async (node: string, p: string) => {
  const r = await lab.exec(node, ['sha256sum', p])
  return r.code === 0 ? r.stdout.split(' ')[0] : undefined
}
const count = async (node: string, dir: string) =>
  Number((await lab.exec(node, ['sh', '-c', 'find "$1" -type f 2>/dev/null | wc -l', 'sh', dir])).stdout.trim())

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        j.pairs[0].nodes.push({ name: 'node-c', address: '198.51.100.13', interface: 'eth0' })
      },
    })
    f = startFollowChild(lab.file, ['--item', 'app', '--timeout', '3', '--batch-ms', '100'])
    const ev = await f.waitFor((e) => e.event === 'following', 60_000)
    assert.equal(Object.keys(ev.targets).sort(), STANDBYS)
  }),
)
test.after(async () => {
  await f?.kill()
  await lab?.down()
})

test('a write on the active appears whole on both standbys', async () => {
  await script(lab, 'node-a', 'head -c 3145728 /dev/urandom > /srv/app/three.bin.tmp && mv /srv/app/three.bin.tmp /srv/app/three.bin')
  const want = await sum('node-a', '/srv/app/three.bin')
  for (const n of STANDBYS) await until(`three.bin on ${n}`, async () => (await sum(n, '/srv/app/three.bin')) === want)
})

test('node-c cut off: node-b keeps receiving, node-c is marked degraded, then catches up and the mark clears', async () => {
  const from = f!.events.length
  await labFault(lab.inv, 'isolate', 'node-c')
  try {
    await script(lab, 'node-a', 'mkdir -p /srv/app/away; for i in $(seq 1 20); do echo "$i" > /srv/app/away/f$i; sleep 0.1; done')
    // node-b does not wait for node-c: all of it arrives while node-c is still away.
    await until('the writes on node-b', async () => (await count('node-b', '/srv/app/away')) === 20)
    const deg = await f!.waitFor((e) => e.event === 'degraded' && e.target === 'node-c', 20_000, from)
    assert.ok(deg.reason)
    assert.not.ok(
      f!.events.slice(from).some((e) => e.event === 'degraded' && e.target === 'node-b'),
      'node-b was marked degraded too',
    )
    assert.is(await count('node-c', '/srv/app/away'), 0)
    const mark = JSON.parse((await lab.exec('node-a', ['cat', '/var/lib/hapair/demo/degraded.json'])).stdout || '{}')
    assert.ok(mark.pending?.['node-c']?.includes('app'), JSON.stringify(mark))
    assert.not.ok(mark.pending?.['node-b'], JSON.stringify(mark))
  } finally {
    await labFault(lab.inv, 'heal', 'node-c')
  }
  await f!.waitFor((e) => e.event === 'caught-up' && e.target === 'node-c', 30_000, from)
  assert.is(await count('node-c', '/srv/app/away'), 20)
  await until(
    'the degraded mark to clear for node-c',
    async () => {
      const m = (await lab.exec('node-a', ['cat', '/var/lib/hapair/demo/degraded.json'])).stdout
      return !m || !JSON.parse(m).pending?.['node-c']
    },
    10_000,
    200,
  )
})

test.run()
