// Failback onto a node whose last changes never reached the node that took over: the in-flight
// list on the active node names them (as the follower writes it after an unplanned takeover), and
// the sync-back would overwrite those only copies. Failback refuses without --inflight; recover
// brings node-a's versions to node-b first and keeps what they replace; discard lets node-b win.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runFailover } from '../../lib/failover/run.ts'
import { writeInflight, type InflightRecord } from '../../lib/sync/follow/inflight.ts'
import { readOn, script } from './_lab.ts'

let lab: TestLab
const DIR = '/var/lib/hapair/demo'
test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

const failback = (...args: string[]) => playbook('failback', ['--inventory', lab.file, ...args])

/**
 * node-b active by a planned failover; then the state an unplanned one leaves: node-a holds
 * versions node-b never got (one.txt changed, only-a.txt new, gone.txt deleted) and node-b's
 * in-flight list names them.
 */
async function strand(): Promise<void> {
  const pool = new SshPool(lab.inv)
  const pair = lab.inv.data.pairs[0]
  try {
    const r = await runFailover(lab.inv, pool, pair, { operation: 'failover', to: 'node-b', force: true })
    assert.ok(r.ok, r.error)
    await script(
      lab,
      'node-b',
      'mkdir -p /srv/app/inflight && echo "node-b, older" > /srv/app/inflight/one.txt && echo "still here" > /srv/app/inflight/gone.txt && rm -f /srv/app/inflight/only-a.txt',
    )
    await script(
      lab,
      'node-a',
      'mkdir -p /srv/app/inflight && echo "node-a, newest" > /srv/app/inflight/one.txt && echo "node-a only" > /srv/app/inflight/only-a.txt && rm -f /srv/app/inflight/gone.txt',
    )
    const since = new Date().toISOString()
    const paths: InflightRecord['paths'] = [
      { item: 'app', path: '/srv/app/inflight/one.txt', change: 'changed', since },
      { item: 'app', path: '/srv/app/inflight/only-a.txt', change: 'changed', since },
      { item: 'app', path: '/srv/app/inflight/gone.txt', change: 'gone', since },
    ]
    await writeInflight(pool.session(pair, 'node-b'), pair, {
      version: 1,
      pair: 'demo',
      source: 'node-a',
      epoch: r.epoch - 1,
      node: 'node-b',
      at: since,
      by: 'test',
      count: paths.length,
      incomplete: [],
      paths,
    })
  } finally {
    pool.close()
  }
}

test('without --inflight: refused (exit 3) naming the paths and the choice; nothing changes', async () => {
  await strand()
  const r = await failback('--yes')
  assert.is(r.code, 3, r.stdout + r.stderr)
  assert.match(r.stderr, /3 path\(s\) changed on node-a had not reached node-b when it took over: \/srv\/app\/inflight\/one\.txt/)
  assert.match(r.stderr, /--inflight recover .*--inflight discard/)
  assert.is(await readOn(lab, 'node-a', '/srv/app/inflight/one.txt'), 'node-a, newest\n')
  assert.is((await lab.exec('node-b', ['test', '-f', `${DIR}/inflight.json`])).code, 0)
  assert.equal(await lab.holders(lab.inv.data.pairs[0].floatingIps![0].address), ['node-b'])
  // The dry run with a choice says what it would do.
  const dry = await failback('--dry-run', '--inflight', 'recover')
  assert.is(dry.code, 0, dry.stdout + dry.stderr)
  assert.match(dry.stdout, /--inflight recover: 3 path\(s\) go from node-a to node-b before the sync-back/)
})

test('bad --inflight: exit 2 before anything is asked', async () => {
  const r = await failback('--yes', '--inflight', 'merge')
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /--inflight must be recover or discard/)
  const f = await playbook('failover', ['--inventory', lab.file, '--yes', '--inflight', 'recover'])
  assert.is(f.code, 2)
  assert.match(f.stderr, /--inflight is for failback/)
})

test("--inflight recover: node-a's versions reach node-b first, so the sync-back keeps them; what they replaced is kept; the list is archived", async () => {
  const r = await failback('--yes', '--json', '--inflight', 'recover')
  assert.is(r.code, 0, r.stdout + r.stderr)
  const j = json(r)
  assert.is(j.active, 'node-a')
  assert.match(
    j.steps.find((s: any) => s.name === 'sync-back').detail,
    /recovered 2 in-flight file\(s\) from node-a .*1 deletion\(s\) not repeated.*in-flight list kept as node-b:/,
  )
  for (const n of ['node-a', 'node-b']) {
    assert.is(await readOn(lab, n, '/srv/app/inflight/one.txt'), 'node-a, newest\n', n)
    assert.is(await readOn(lab, n, '/srv/app/inflight/only-a.txt'), 'node-a only\n', n)
  }
  // Deletions are not recovered: node-b's file stays and the sync-back brings it back to node-a.
  assert.is(await readOn(lab, 'node-a', '/srv/app/inflight/gone.txt'), 'still here\n')
  const kept = await script(lab, 'node-b', `cat ${DIR}/inflight-replaced/*/app/inflight/one.txt`)
  assert.is(kept, 'node-b, older\n')
  assert.is((await lab.exec('node-b', ['test', '-f', `${DIR}/inflight.json`])).code, 1, 'the list is still there')
  assert.match(await script(lab, 'node-b', `ls ${DIR}`), /inflight-recovered-.*\.json/)
})

test("--inflight discard: node-b's versions win everywhere", async () => {
  await strand()
  const r = await failback('--yes', '--json', '--inflight', 'discard')
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.is(json(r).active, 'node-a')
  for (const n of ['node-a', 'node-b']) assert.is(await readOn(lab, n, '/srv/app/inflight/one.txt'), 'node-b, older\n', n)
  assert.match(await script(lab, 'node-b', `ls ${DIR}`), /inflight-discarded-.*\.json/)
})

test.run()
