// backup-verify against a real lab pair: the lab's backups pass with a real test restore; then
// stale, missing, truncated, corrupted and not-what-they-claim backups each fail on their node.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { backupVerifyPair } from '../../lib/backup/run.ts'
import type { CheckResult } from '../../lib/checks/types.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { startSentinel } from '../helpers/sentinel.ts'

let lab: TestLab
let pool: SshPool
let pair: Pair
test.before(async () => {
  lab = await startTestLab()
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
})
test.after(async () => {
  pool?.close()
  await lab?.down()
})

async function sh(node: string, script: string): Promise<string> {
  const r = await lab.exec(node, ['sh', '-c', script])
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}
const run = () => backupVerifyPair(pair, pool, pair.backups!, { restore: true })
/** Exactly these node/check pairs fail; the first one's detail matches. */
function fails(rs: CheckResult[], want: string[], detail: RegExp) {
  const bad = rs.filter((r) => !r.ok)
  assert.equal(
    bad.map((r) => `${r.node}/${r.check}`),
    want,
    JSON.stringify(bad, null, 1),
  )
  assert.match(bad[0].detail, detail)
}
const IN = 'cd /var/backups/app && f=$(ls app-*.tar.gz)'
/** What the lab's backup job does: archive, checksum, manifest. */
const REBUILD = `${IN} && tar -czf "$f" -C /srv app && sha256sum "$f" > SHA256SUMS && tar -tzf "$f" > "$f.list"`
const noScratch = async () => {
  for (const n of ['node-a', 'node-b']) assert.is((await sh(n, 'ls -d /var/tmp/hapair-restore.* 2>/dev/null | wc -l')).trim(), '0', `scratch left on ${n}`)
}

test("the lab's backups pass: present, fresh, sized, read end to end, restored and matching (exit 0)", async () => {
  const r = await playbook('backup-verify', ['--inventory', lab.file, '--restore', '--json'], { timeoutMs: 90_000 })
  assert.is(r.code, 0, r.stdout + r.stderr)
  const out = json(r)
  assert.equal(
    out.checks.map((c: CheckResult) => `${c.node}/${c.check}`),
    ['present', 'age', 'size', 'integrity', 'restore']
      .map((s) => `node-a/app:${s}`)
      .concat(['present', 'age', 'size', 'integrity', 'restore'].map((s) => `node-b/app:${s}`)),
  )
  const restore = out.checks.find((c: CheckResult) => c.node === 'node-b' && c.check === 'app:restore')
  assert.match(restore.detail, /^test restore of app-\S+\.tar\.gz: 6 files match manifest app-\S+\.tar\.gz\.list \(paths\); scratch removed$/)
  assert.match(out.checks[3].detail, /reads end to end \(\d+ members\), sha256 matches SHA256SUMS/)
  await noScratch()
})

test('without --restore there is no restore step', async () => {
  const rs = await backupVerifyPair(pair, pool, pair.backups!, {})
  assert.not.ok(rs.some((r) => r.check.endsWith(':restore')))
  assert.ok(rs.every((r) => r.ok))
})

test('a stale backup fails age on that node only', async () => {
  await sh('node-b', `${IN} && touch -d "30 hours ago" "$f"`)
  fails(await run(), ['node-b/app:age'], /^newest app-\S+ finished \S+Z \(30\.0 h ago\), older than 26 h: the backup job has not run/)
  await sh('node-b', `${IN} && touch "$f"`)
})

test('a corrupted backup fails integrity (and the restore is not attempted)', async () => {
  await sh('node-a', `${IN} && printf 'garbage-garbage-garbage' | dd of="$f" bs=1 seek=200 conv=notrunc 2>/dev/null`)
  const rs = await run()
  fails(rs, ['node-a/app:integrity', 'node-a/app:restore'], /does not read end to end \(test: .*gzip.*\): the backup is damaged/)
  assert.match(rs.find((r) => r.check === 'app:restore' && r.node === 'node-a')!.detail, /^not attempted/)
  await sh('node-a', REBUILD)
})

test('an archive replaced after its checksum was written fails integrity: sha256 mismatch', async () => {
  await sh('node-a', `${IN} && echo more >> /srv/app/data/readme.txt && tar -czf "$f" -C /srv app && sed -i '$d' /srv/app/data/readme.txt`)
  fails(await run(), ['node-a/app:integrity', 'node-a/app:restore'], /sha256 does not match SHA256SUMS: the archive changed after it was written/)
  await sh('node-a', REBUILD)
})

test('a restore that does not match the manifest fails restore, not integrity', async () => {
  await sh('node-b', `${IN} && echo extra > /srv/app/extra.txt && tar -czf "$f" -C /srv app && sha256sum "$f" > SHA256SUMS && rm /srv/app/extra.txt`)
  fails(
    await run(),
    ['node-b/app:restore'],
    /^test restore of app-\S+ does not match manifest app-\S+\.list \(paths\): app\/extra\.txt \(restored, not in the manifest\)/,
  )
  await noScratch()
  await sh('node-b', REBUILD)
})

test('a sha256 manifest is checked file by file: changed content fails restore', async () => {
  const SHA_MANIFEST = `${IN} && (cd /srv && find app -type f -exec sha256sum {} +) > "$f.list"`
  await sh('node-b', SHA_MANIFEST)
  const ok = await run()
  assert.ok(
    ok.every((r) => r.ok),
    JSON.stringify(ok.filter((r) => !r.ok)),
  )
  assert.match(ok.find((r) => r.node === 'node-b' && r.check === 'app:restore')!.detail, /match manifest .*\(sha256\) by sha256/)
  await sh(
    'node-b',
    `${IN} && sed -i 's/Ada/Eve/' /srv/app/data/customers.csv && tar -czf "$f" -C /srv app && sha256sum "$f" > SHA256SUMS && sed -i 's/Eve/Ada/' /srv/app/data/customers.csv`,
  )
  fails(await run(), ['node-b/app:restore'], /app\/data\/customers\.csv \(content differs from the manifest\)/)
  await sh('node-b', REBUILD)
})

test('a missing manifest fails restore; a missing checksum file fails integrity', async () => {
  await sh('node-b', `${IN} && mv "$f.list" /var/backups/keep.list`)
  fails(await run(), ['node-b/app:restore'], /^manifest app-\S+\.tar\.gz\.list is missing: the backup job did not write it$/)
  await sh('node-b', `${IN} && mv /var/backups/keep.list "$f.list" && mv SHA256SUMS /var/backups/keep.sums`)
  fails(await run(), ['node-b/app:integrity', 'node-b/app:restore'], /^SHA256SUMS is missing beside app-\S+: the backup job did not finish writing it$/)
  await sh('node-b', 'mv /var/backups/keep.sums /var/backups/app/SHA256SUMS')
})

test('a truncated backup fails size and integrity', async () => {
  await sh('node-a', `${IN} && truncate -s 50 "$f" && sha256sum "$f" > SHA256SUMS`)
  fails(
    await run(),
    ['node-a/app:size', 'node-a/app:integrity', 'node-a/app:restore'],
    /is 50 B \(50 bytes\), outside 100 B\.\.100 MiB: an empty or truncated backup/,
  )
  await sh('node-a', REBUILD)
})

test('no backup at all fails every step with why', async () => {
  await sh('node-b', 'mkdir -p /var/backups/hold && mv /var/backups/app/* /var/backups/hold/')
  const rs = await run()
  fails(
    rs,
    ['present', 'age', 'size', 'integrity', 'restore'].map((s) => `node-b/app:${s}`),
    /^no \*\.tar\.gz in \/var\/backups\/app: the backup job has not written any/,
  )
  assert.ok(
    rs
      .filter((r) => r.node === 'node-b')
      .slice(1)
      .every((r) => r.detail === 'no backup to check'),
  )
  await sh('node-b', 'mv /var/backups/hold/* /var/backups/app/ && rmdir /var/backups/hold')
})

test('an unreachable node fails its steps as unreachable; the other node is still verified (exit 1)', async () => {
  await labFault(lab.inv, 'isolate', 'node-a')
  try {
    const r = await playbook('backup-verify', ['--inventory', lab.file, '--json'], { timeoutMs: 60_000 })
    assert.is(r.code, 1)
    const out = json(r)
    for (const c of out.checks) {
      if (c.node === 'node-a') {
        assert.is(c.ok, false)
        assert.match(c.detail, /^unreachable: node-a/)
      } else assert.is(c.ok, true, c.detail)
    }
  } finally {
    await labFault(lab.inv, 'heal', 'node-a')
  }
})

test('an unknown backup name is bad input: exit 2 before any node is touched', async () => {
  // The nodes are loopback listeners counting connections: "not touched" is observed.
  const sentinel = await startSentinel(['127.0.0.2', '127.0.0.3'])
  try {
    const j = JSON.parse(readFileSync(lab.file, 'utf8'))
    delete j.lab
    j.pairs[0].fencing = { driver: 'none' }
    j.pairs[0].nodes.forEach((n: any, i: number) => {
      n.address = sentinel.hosts[i]
    })
    j.defaults.ssh.port = sentinel.port
    const file = path.join(path.dirname(lab.file), 'sentinel.json')
    writeFileSync(file, JSON.stringify(j))
    const r = await playbook('backup-verify', ['--inventory', file, '--check', 'nope'])
    assert.is(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /unknown backup: nope \(declared: app\)/)
    assert.is(sentinel.contacts, 0, 'a node was contacted')
    // Control: a declared name does go to the nodes, and the sentinel sees it.
    const control = await playbook('backup-verify', ['--inventory', file, '--check', 'app'], { timeoutMs: 30_000 })
    assert.is(control.code, 1, control.stdout + control.stderr)
    assert.ok(sentinel.contacts > 0, 'the control run reached no node')
  } finally {
    await sentinel.close()
  }
})

test.run()
