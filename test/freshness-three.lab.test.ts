// behind() over real SSH on a three-node lab pair (test/freshness.lab.test.ts has the two-node cases): after a sync every standby is fresh; a write on
// the active node shows on both; a powered-off standby is reported unreachable for every item it
// would be compared on (an item under a protected parent never is); an active node that cannot be
// listed is an error, not a verdict. One round trip per node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RemoteError } from '../lib/errors.ts'
import { behind } from '../lib/freshness.ts'
import { labFault } from '../lib/lab/index.ts'
import { SshPool } from '../lib/ssh.ts'
import { runSync } from '../lib/sync/index.ts'
import { startTestLab, type TestLab } from './helpers/lab.ts'

let lab: TestLab
let pool: SshPool
const pair = () => lab.inv.data.pairs[0]

test.before(async () => {
  lab = await startTestLab({
    mutate: (j) => {
      const p = j.pairs[0]
      p.nodes.push({ name: 'node-c', address: '198.51.100.13', interface: 'eth0' })
      // An item inside a protected directory is never synced, so never compared either.
      p.sync.items.push({ name: 'covered', path: '/srv/keep/inner', transport: 'rsync', policy: 'always' })
      p.sync.protected.push('/srv/keep')
    },
  })
  pool = new SshPool(lab.inv)
  const r = await runSync(lab.inv, pair(), pool, {})
  assert.is(r.exitCode, 0, JSON.stringify(r.results))
})
test.after(async () => {
  pool?.close()
  await lab?.down()
})

test('after a sync both standbys are fresh; a write on the active shows on both, naming the file', async () => {
  assert.equal(await behind(pool, pair(), 'node-a', ['node-b', 'node-c']), { 'node-b': [], 'node-c': [] })
  await lab.exec('node-a', ['sh', '-c', 'echo new > /srv/app/data/fresh-test.txt'])
  const got = await behind(pool, pair(), 'node-a', ['node-b', 'node-c'])
  for (const n of ['node-b', 'node-c']) {
    assert.equal(
      got[n].map((l) => l.item),
      ['app'],
      JSON.stringify(got),
    )
    assert.match(got[n][0].why, /fresh-test\.txt \(missing here\)/)
  }
  // Only the items asked for, only the nodes asked for.
  assert.equal(await behind(pool, pair(), 'node-a', ['node-b'], { items: ['config'] }), { 'node-b': [] })
})

test('node-c powered off: unreachable for every compared item, never for the protected one; node-b still judged', async () => {
  await labFault(lab.inv, 'kill', 'node-c')
  try {
    const got = await behind(pool, pair(), 'node-a', ['node-b', 'node-c'])
    assert.equal(got['node-c'].map((l) => l.item).sort(), ['app', 'config'])
    assert.ok(
      got['node-c'].every((l) => l.why.startsWith('unreachable: ')),
      JSON.stringify(got['node-c']),
    )
    assert.equal(
      got['node-b'].map((l) => l.item),
      ['app'],
    )
  } finally {
    await labFault(lab.inv, 'start', 'node-c')
  }
})

test('the active node cannot be listed: an error that says it is unreachable, not a verdict', async () => {
  await labFault(lab.inv, 'isolate', 'node-a')
  const cut = new SshPool(lab.inv)
  try {
    await behind(cut, pair(), 'node-a', ['node-b'])
    assert.unreachable('should throw')
  } catch (e) {
    assert.instance(e, RemoteError)
    assert.ok((e as RemoteError).unreachable, (e as Error).message)
  } finally {
    cut.close()
    await labFault(lab.inv, 'heal', 'node-a')
  }
})

test.run()
