// Real rsync and real sftp between lab nodes: odd names and a large file arrive identically over
// both transports, protected paths stay as they are, mirror deletes and non-mirror keeps, items
// go in priority order, and a dry run changes nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { loadInventory, type LoadedInventory } from '../../lib/inventory/load.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync, type SyncOptions } from '../../lib/sync/index.ts'
import { hostKeyAlias } from '../../lib/sync/pin.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { fingerprint, loud, ODD_NAMES, oddTree, pwned, readOn, script } from './_lab.ts'

let lab: TestLab
let sftpInv: LoadedInventory
const APP_SKIP = ['local', '.rhosts']
const BIG = 16 * 1024 * 1024

async function sync(inv: LoadedInventory, o: SyncOptions = {}) {
  const pool = new SshPool(inv)
  try {
    return await runSync(inv, inv.data.pairs[0], pool, o)
  } finally {
    pool.close()
  }
}

test.before(
  loud(async () => {
    lab = await startTestLab({
      mutate: (j) => {
        const p = j.pairs[0]
        p.nodes.push({ name: 'node-c', address: '198.51.100.13', interface: 'eth0' })
        p.sync.items.push({ name: 'low', path: '/srv/low', priority: 1, transport: 'rsync', policy: 'always' })
      },
    })
    // The same lab, with app carried by sftp: node-b gets app over rsync, node-c over sftp.
    const json = JSON.parse(readFileSync(lab.file, 'utf8'))
    json.pairs[0].sync.items.find((i: any) => i.name === 'app').transport = 'sftp'
    const f = lab.file.replace(/\.json$/, '-sftp.json')
    writeFileSync(f, JSON.stringify(json, null, 2))
    sftpInv = loadInventory(f)
    await oddTree(lab, 'node-a', '/srv/app/odd')
    await script(
      lab,
      'node-a',
      `head -c ${BIG} /dev/urandom > /srv/app/large.bin; mkdir -p /srv/low; echo low > /srv/low/x
    echo 'source must not overwrite' > /srv/app/.rhosts; echo 'node-a local' > /srv/app/local/node.txt; echo new > /srv/app/local/only-on-a`,
    )
    // What the targets hold in protected paths before any sync.
    for (const n of ['node-b', 'node-c']) await script(lab, n, 'echo "$1 rhosts" > /srv/app/.rhosts; echo keep > /srv/config/target-only.conf', n)
  }),
)
test.after(async () => {
  await lab?.down()
})

test('rsync to node-b and sftp to node-c leave trees identical to the source (odd names, large file, links, modes)', async () => {
  const viaRsync = await sync(lab.inv, { to: 'node-b', items: ['app'] })
  assert.is(viaRsync.exitCode, 0, JSON.stringify(viaRsync.results))
  const viaSftp = await sync(sftpInv, { to: 'node-c', items: ['app'] })
  assert.is(viaSftp.exitCode, 0, JSON.stringify(viaSftp.results))
  assert.equal([viaRsync.results[0].transport, viaSftp.results[0].transport], ['rsync', 'sftp'])
  for (const r of [viaRsync.results[0], viaSftp.results[0]]) {
    assert.ok(r.bytes >= BIG, `${r.transport} sent ${r.bytes} bytes`)
    assert.ok(r.sent >= 2 * ODD_NAMES.length, `${r.transport} sent ${r.sent} files`)
  }
  const a = await fingerprint(lab, 'node-a', '/srv/app', APP_SKIP)
  assert.ok(a.includes('new\nline') && a.includes('ünïcødé-日本語') && a.includes('large.bin'), 'the fingerprint sees the odd names')
  assert.is(await fingerprint(lab, 'node-b', '/srv/app', APP_SKIP), a, 'rsync copy')
  assert.is(await fingerprint(lab, 'node-c', '/srv/app', APP_SKIP), a, 'sftp copy')
  for (const n of ['node-a', 'node-b', 'node-c']) assert.not.ok(await pwned(lab, n), `nothing ran on ${n}`)
  assert.not.ok(existsSync('hapair-pwned'))
})
test('protected paths are untouched on every target although the source differs', async () => {
  for (const n of ['node-b', 'node-c']) {
    assert.is(await readOn(lab, n, '/srv/app/.rhosts'), `${n} rhosts\n`)
    assert.is(await readOn(lab, n, '/srv/app/local/node.txt'), `${n}: node-local files, never synced\n`)
    assert.is((await lab.exec(n, ['test', '-e', '/srv/app/local/only-on-a'])).code, 1, `${n}: nothing new is written into a protected dir`)
  }
})

test('a re-sync sends only the changed file; mirror deletes, non-mirror keeps', async () => {
  await script(
    lab,
    'node-a',
    'echo changed >> "/srv/app/odd/with space"; rm -f /srv/app/data/readme.txt "/srv/app/odd/semi;colon"; rm -f /srv/config/app.conf.old',
  )
  const [b, c] = [await sync(lab.inv, { items: ['app', 'config'], to: 'node-b' }), await sync(sftpInv, { items: ['app', 'config'], to: 'node-c' })]
  for (const rep of [b, c]) {
    const app = rep.results.find((r) => r.item === 'app')!
    assert.equal([app.sent, app.deleted], [1, 2], `${app.transport}: ${JSON.stringify(app)}`)
    assert.ok(app.bytes < 1000, `${app.transport}: only the changed file's bytes (${app.bytes})`)
  }
  const a = await fingerprint(lab, 'node-a', '/srv/app', APP_SKIP)
  assert.is(await fingerprint(lab, 'node-b', '/srv/app', APP_SKIP), a)
  assert.is(await fingerprint(lab, 'node-c', '/srv/app', APP_SKIP), a)
  for (const n of ['node-b', 'node-c']) assert.is(await readOn(lab, n, '/srv/config/target-only.conf'), 'keep\n', `${n}: config is not mirror`)
})

test('rsync: a file rewritten with the same size in the same second as its last copy still arrives (times compared to the nanosecond)', async () => {
  // rsync's quick check compares whole seconds by default: the second version below has the size
  // and the second of the first, and a default rsync keeps the first on node-b for good.
  const set = (v: string, ns: string) =>
    script(lab, 'node-a', `printf '%s\\n' "$1" > /srv/app/same-second.txt; touch -d "2026-01-01 00:00:00.$2" /srv/app/same-second.txt`, v, ns)
  await set('version one', '100000000')
  assert.is((await sync(lab.inv, { items: ['app'], to: 'node-b' })).exitCode, 0)
  assert.is(await readOn(lab, 'node-b', '/srv/app/same-second.txt'), 'version one\n')
  await set('version two', '600000000')
  const r = await sync(lab.inv, { items: ['app'], to: 'node-b' })
  assert.is(r.exitCode, 0, JSON.stringify(r.results))
  assert.is(await readOn(lab, 'node-b', '/srv/app/same-second.txt'), 'version two\n')
  assert.is(r.results[0].sent, 1)
})

test('items run in priority order on each target, and the JSON lists them in that order', async () => {
  await script(lab, 'node-a', 'date +%s%N > /srv/config/stamp; date +%s%N > /srv/low/stamp')
  const rep = await sync(lab.inv)
  assert.is(rep.exitCode, 0, JSON.stringify(rep.results))
  assert.equal(
    rep.results.map((r) => `${r.item}>${r.target}`),
    ['config>node-b', 'config>node-c', 'app>node-b', 'app>node-c', 'low>node-b', 'low>node-c'],
  )
  for (const t of ['node-b', 'node-c']) {
    const times = rep.results.filter((r) => r.target === t).map((r) => Date.parse(r.startedAt))
    assert.ok(times[0] <= times[1] && times[1] <= times[2], `${t}: ${times}`)
  }
  const state = JSON.parse(await readOn(lab, 'node-a', '/var/lib/hapair/demo/sync.json'))
  assert.equal(Object.keys(state.items).sort(), ['app', 'config', 'low'])
  assert.equal(Object.keys(state.items.low).sort(), ['node-b', 'node-c'])
})

test('dry run: the itemised changes per item and target, and nothing changes anywhere', async () => {
  await script(lab, 'node-a', 'echo dry > "/srv/app/odd/dry run new"; rm -f /srv/app/index.html; echo x >> /srv/config/app.conf')
  const before = await Promise.all(['node-b', 'node-c'].map((n) => fingerprint(lab, n, '/srv', [])))
  const stateBefore = await fingerprint(lab, 'node-a', '/var/lib/hapair', [])
  const rep = await sync(lab.inv, { dryRun: true })
  assert.is(rep.exitCode, 0)
  const app = rep.results.find((r) => r.item === 'app' && r.target === 'node-b')!
  assert.is(app.outcome, 'dry-run')
  assert.ok(
    app.changes!.some((c) => c.endsWith('odd/dry run new')),
    app.changes!.join('\n'),
  )
  assert.ok(
    app.changes!.some((c) => c === '*deleting   index.html'),
    app.changes!.join('\n'),
  )
  const conf = rep.results.find((r) => r.item === 'config' && r.target === 'node-c')!
  assert.ok(
    conf.changes!.some((c) => c.endsWith(' app.conf')),
    conf.changes!.join('\n'),
  )
  assert.equal(await Promise.all(['node-b', 'node-c'].map((n) => fingerprint(lab, n, '/srv', []))), before)
  assert.is(await fingerprint(lab, 'node-a', '/var/lib/hapair', []), stateBefore, 'no state written')
})

test("the hop's pin: a missing one comes from the controller's known_hosts (not in a dry run); a different one is refused", async () => {
  const kh = '/var/lib/hapair/ssh/known_hosts'
  const addr = (n: string) => lab.inv.data.pairs[0].nodes.find((x) => x.name === n)!.address
  const bAlias = hostKeyAlias(lab.inv.data.pairs[0], 'node-b')
  const original = await readOn(lab, 'node-a', kh)
  // The lab seeds address lines; the earlier syncs added hapair's alias lines.
  const without = original
    .split('\n')
    .filter((l) => !l.startsWith(`${addr('node-b')} `) && !l.startsWith(`${bAlias} `))
    .join('\n')
  await script(lab, 'node-a', 'printf "%s\\n" "$2" > "$1"', kh, without)
  try {
    const dry = await sync(lab.inv, { to: 'node-b', items: ['app'], dryRun: true })
    assert.equal([dry.results[0].outcome, dry.exitCode], ['failed', 1])
    assert.match(dry.results[0].reason!, "does not pin node-b's host key yet")
    assert.not.ok((await readOn(lab, 'node-a', kh)).includes(`${bAlias} `), 'a dry run adds no pin')

    const real = await sync(lab.inv, { to: 'node-b', items: ['app'] })
    assert.equal([real.pinned, real.exitCode], [['node-b'], 0])
    const bKey = original
      .split('\n')
      .find((l) => l.startsWith(`${addr('node-b')} `))!
      .split(' ')
      .slice(1)
      .join(' ')
    assert.ok((await readOn(lab, 'node-a', kh)).split('\n').includes(`${bAlias} ${bKey}`), "the controller's pin, copied under hapair's alias")

    // node-b "rebuilt": the source pins another key for it. The hop is refused (exit 3); sftp (through the controller) and node-c go on.
    const cKey = original
      .split('\n')
      .find((l) => l.startsWith(`${addr('node-c')} `))!
      .split(' ')
      .slice(1)
      .join(' ')
    await script(lab, 'node-a', 'printf "%s\\n%s %s\\n" "$2" "$3" "$4" > "$1"', kh, without, addr('node-b'), cKey)
    const bad = await sync(lab.inv, { items: ['app', 'config'] })
    const by = Object.fromEntries(bad.results.map((r) => [`${r.item}>${r.target}`, r]))
    assert.is(by['app>node-b'].outcome, 'failed')
    assert.match(by['app>node-b'].reason!, 'HOST KEY MISMATCH on the hop')
    assert.not.ok(by['app>node-b'].link, 'not a link problem: it will not heal by itself')
    assert.ok(by['app>node-b'].refusedForSafety)
    assert.equal([by['config>node-b'].outcome, by['app>node-c'].outcome, bad.exitCode], ['ok', 'ok', 3])
    assert.equal(bad.degraded?.pending, { 'node-b': ['app'] })
  } finally {
    await script(lab, 'node-a', 'printf "%s" "$2" > "$1"', kh, original)
  }
  assert.is((await sync(lab.inv, { to: 'node-b' })).degraded, null, 'fixed pin, delivered, mark cleared')
})

test.run()
