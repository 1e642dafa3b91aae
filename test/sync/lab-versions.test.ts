// N9 on real nodes: each item's data version read from the node, the four policies with the
// target above, below and equal to the source, a missing version, and bootstrap onto a blank node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadInventory } from '../../lib/inventory/load.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync, type SyncOptions } from '../../lib/sync/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { fingerprint, loud, script } from './_lab.ts'

let lab: TestLab
const POLICY_ITEMS = ['eq', 'up', 'down', 'al']
const ALL = [...POLICY_ITEMS, 'sw']

async function sync(o: SyncOptions = {}) {
  const inv = loadInventory(lab.file) // re-read: the policy playbook edits the file
  const pool = new SshPool(inv)
  try {
    return await runSync(inv, inv.data.pairs[0], pool, o)
  } finally {
    pool.close()
  }
}
const setVersion = (node: string, v: string) => script(lab, node, 'printf "%s\\n" "$1" > /var/lib/app/data-version', v)
const present = async (node: string) => {
  const out = await script(lab, node, 'cd /srv && for d in "$@"; do [ -f "$d/v" ] && echo "$d"; done; exit 0', ...ALL)
  return out.split('\n').filter(Boolean)
}
const resetB = () => script(lab, 'node-b', 'cd /srv && rm -rf "$@"', ...ALL)

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        const p = j.pairs[0]
        p.nodes.push({ name: 'node-c', address: '198.51.100.13', interface: 'eth0' })
        const version = { file: '/var/lib/app/data-version' }
        p.sync.items = [
          ...POLICY_ITEMS.map((name, i) => ({
            name,
            path: `/srv/${name}`,
            priority: 10 - i,
            policy: { eq: 'equal', up: 'upgrade', down: 'downgrade', al: 'always' }[name],
            version,
          })),
          { name: 'sw', path: '/srv/sw', priority: 1, transport: 'sftp' }, // no data version: judged by the software version
        ]
      },
    })
    await script(lab, 'node-a', 'cd /srv && for d in "$@"; do mkdir -p "$d"; echo "$d from node-a" > "$d/v"; done', ...ALL)
  }),
)
test.after(async () => {
  await lab?.down()
})

// source data version, target data version, items that arrive
const table: [string, string, string[]][] = [
  ['1', '2', ['up', 'al', 'sw']], // the target is newer: only upgrade (and always) feed it
  ['2', '1', ['down', 'al', 'sw']], // the target is older: only downgrade (and always)
  ['1', '1', ALL],
]
for (const [sv, tv, want] of table)
  test(`source data version ${sv}, target ${tv}: ${want.join(', ')} sync; the others say why not`, async () => {
    await resetB()
    await setVersion('node-a', sv)
    await setVersion('node-b', tv)
    const rep = await sync({ to: 'node-b' })
    assert.is(rep.exitCode, 0, 'a skip by policy is not a failure')
    assert.equal((await present('node-b')).sort(), [...want].sort())
    for (const r of rep.results) {
      assert.is(r.outcome, want.includes(r.item) ? 'ok' : 'skipped', r.item)
      if (r.outcome === 'skipped') assert.match(r.reason!, `source ${sv} is ${sv < tv ? 'lower' : 'higher'} than target ${tv}`)
      if (r.item !== 'sw') assert.equal(r.versions, { source: sv, target: tv })
    }
    assert.is(rep.degraded, null, 'skipped items are not held')
  })

test('a target without a data version: those items fail (exit 1) and point at --bootstrap; always still syncs', async () => {
  await resetB()
  await setVersion('node-a', '1')
  await script(lab, 'node-b', 'rm -f /var/lib/app/data-version')
  const rep = await sync({ to: 'node-b' })
  assert.is(rep.exitCode, 1)
  for (const r of rep.results) {
    if (r.item === 'al' || r.item === 'sw') assert.is(r.outcome, 'ok', r.item)
    else {
      assert.is(r.outcome, 'failed', r.item)
      assert.match(r.reason!, 'cannot read /var/lib/app/data-version')
      assert.match(r.reason!, '--bootstrap')
    }
  }
  assert.equal(rep.degraded?.pending['node-b'], ['down', 'eq', 'up'])
  await setVersion('node-b', '1')
})

test('--bootstrap: a blank node gets every item from the running primary', async () => {
  await script(lab, 'node-c', 'rm -rf /srv/* /var/lib/app/data-version')
  const rep = await sync({ bootstrap: 'node-c' })
  assert.is(rep.exitCode, 0, JSON.stringify(rep.results, null, 1))
  assert.equal(rep.targets, ['node-c'])
  assert.equal(
    rep.results.map((r) => r.outcome),
    ALL.map(() => 'ok'),
  )
  for (const d of ALL) assert.is(await fingerprint(lab, 'node-c', `/srv/${d}`), await fingerprint(lab, 'node-a', `/srv/${d}`), d)
})

test('the policy playbook changes what syncs: set eq to always, and it goes through differing versions', async () => {
  await resetB()
  await setVersion('node-b', '7')
  const get = await playbook('policy', ['get', 'demo', 'eq', '--inventory', lab.file, '--json'])
  assert.equal(json(get), { pair: 'demo', item: 'eq', policy: 'equal', explicit: true })
  const set = await playbook('policy', ['set', 'demo', 'eq', 'always', '--inventory', lab.file])
  assert.is(set.code, 0, set.stderr)
  const rep = await sync({ to: 'node-b', items: ['eq'] })
  assert.equal(
    rep.results.map((r) => [r.item, r.outcome]),
    [['eq', 'ok']],
  )
  assert.equal(await present('node-b'), ['eq'])
})

test.run()
