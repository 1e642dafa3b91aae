// The mirror delete guard between real lab nodes, over rsync and sftp: a target that holds many
// files the (stale) source lacks refuses with exit 3 and keeps them all; --force deletes them;
// protected paths stay either way; a small deletion goes through unasked.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT } from '../../lib/errors.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync, type SyncOptions } from '../../lib/sync/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { loud, readOn, script } from './_lab.ts'

let lab: TestLab

async function sync(o: SyncOptions = {}) {
  const pool = new SshPool(lab.inv)
  try {
    return await runSync(lab.inv, lab.inv.data.pairs[0], pool, { to: 'node-b', ...o })
  } finally {
    pool.close()
  }
}
const count = async (node: string, dir: string) => Number((await script(lab, node, 'find "$1" -type f | wc -l', dir)).trim())

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        j.pairs[0].sync.items.push({ name: 'sapp', path: '/srv/sapp', transport: 'sftp', policy: 'always', mirror: true, protect: ['/srv/sapp/local'] })
      },
    })
    for (const n of ['node-a', 'node-b']) await script(lab, n, 'mkdir -p /srv/sapp/local; echo "$1" > /srv/sapp/local/node.txt', n)
    await script(lab, 'node-a', 'for i in $(seq 1 40); do echo $i > /srv/app/base$i; echo $i > /srv/sapp/base$i; done')
    const first = await sync({ items: ['app', 'sapp'] })
    assert.is(first.exitCode, 0, JSON.stringify(first.results))
  }),
)
test.after(async () => {
  await lab?.down()
})

for (const [item, dir] of [
  ['app', '/srv/app'],
  ['sapp', '/srv/sapp'],
] as const) {
  test(`${item}: the target's newer 300 files are not deleted by a plain sync (exit 3, paths listed), and are by --force`, async () => {
    // What node-b holds that the source does not: written there while it was active.
    await script(
      lab,
      'node-b',
      'mkdir -p "$1/written-on-b"; for i in $(seq 1 300); do echo "$i" > "$1/written-on-b/f$i"; done; echo b > "$1/local/b-only"',
      dir,
    )
    const held = await count('node-b', dir)
    const rep = await sync({ items: [item] })
    assert.is(rep.exitCode, EXIT.refused, JSON.stringify(rep.results))
    const r = rep.results[0]
    assert.is(r.outcome, 'refused')
    assert.is(r.refused!.count, 300)
    assert.is(r.refused!.paths.length, 20)
    assert.ok(
      r.refused!.paths.every((p) => p.startsWith('written-on-b/')),
      r.refused!.paths.join(', '),
    )
    assert.match(r.reason!, /refused to delete 300 of the \d+ files/)
    assert.is(await count('node-b', dir), held, 'nothing deleted')

    const dry = await sync({ items: [item], dryRun: true })
    assert.match(dry.results[0].reason ?? '', /a real sync would refuse: 300 files/)

    const forced = await sync({ items: [item], force: true })
    assert.is(forced.exitCode, 0, JSON.stringify(forced.results))
    assert.is(forced.results[0].outcome, 'ok')
    assert.ok(forced.results[0].deleted >= 300, String(forced.results[0].deleted))
    assert.is((await lab.exec('node-b', ['test', '-e', `${dir}/written-on-b`])).code, 1)
    assert.is(await readOn(lab, 'node-b', `${dir}/local/b-only`), 'b\n', 'protected paths are never deleted, --force or not')
  })

  test(`${item}: a small deletion goes through without --force`, async () => {
    await script(lab, 'node-a', 'rm -f "$1/base1" "$1/base2"', dir)
    const rep = await sync({ items: [item] })
    assert.is(rep.exitCode, 0, JSON.stringify(rep.results))
    assert.is(rep.results[0].deleted, 2)
    assert.is((await lab.exec('node-b', ['test', '-e', `${dir}/base1`])).code, 1)
  })
}

test('.rhosts (pair-wide protected) survives every pass', async () => {
  await script(lab, 'node-b', 'echo b > /srv/app/.rhosts')
  await sync({ items: ['app'], force: true })
  assert.is(await readOn(lab, 'node-b', '/srv/app/.rhosts'), 'b\n')
})

test.run()
