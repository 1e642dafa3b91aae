// Progress of long work besides sync, without a terminal (a log, cron, CI): deep verify hashing on
// the nodes, a backup's test restore and failback's sync-back each print a line on stderr at the
// interval while stdout (--json) is the report alone. The work is long for real: a sparse file of
// 400 MB that sha256sum reads through on each node, an archive that tar extracts to 600 MB, and
// a sync-back over a link slowed by a tbf qdisc. HAPAIR_PROGRESS_EVERY_MS shortens the interval
// so that a few seconds of work give several lines.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runFailover } from '../lib/failover/run.ts'
import { SshPool } from '../lib/ssh.ts'
import { startTestLab, type TestLab } from './helpers/lab.ts'
import { playbook, type PlaybookRun } from './helpers/playbook.ts'
import { loud, on, script } from './sync/_lab.ts'

let lab: TestLab
const EVERY = 500
const env = { HAPAIR_PROGRESS_EVERY_MS: String(EVERY) }
const run = (name: string, args: string[], e: Record<string, string> = env) =>
  playbook(name, ['--inventory', lab.file, ...args], { env: e, timeoutMs: 120_000 })

test.before(
  loud(async () => {
    lab = await startTestLab()
    const r = await run('sync', [])
    assert.is(r.code, 0, r.stdout + r.stderr)
  }),
)
test.after(async () => {
  await lab?.exec('node-b', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {})
  await lab?.down()
})

/** The lines starting with prefix; every one a plain line (no terminal codes), and not more often than the interval. */
function progressLines(r: PlaybookRun, prefix: string, min: number, every = EVERY): string[] {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith(prefix))
  console.log(`      ${(r.ms / 1000).toFixed(1)} s, ${lines.length} progress lines; last: ${lines.at(-1)}`)
  assert.not.match(r.stderr, /\r|\x1b/, 'no terminal control codes in a log')
  assert.ok(lines.length >= min, `${lines.length} progress lines in ${r.ms} ms (one every ${every} ms):\n${r.stderr}`)
  assert.ok(lines.length <= r.ms / every + 1, `${lines.length} lines in ${r.ms} ms: more often than every ${every} ms`)
  assert.not.match(r.stdout, /elapsed|\/s, /, 'stdout is the report alone')
  return lines
}

const VERIFY = /^verify: [01] of 1 done( \([\d.]+ [kMG]?B hashed\))?, \d+ s elapsed(; demo sync-drift: hashing (app|config) on node-a, node-b, \d+ s)?$/

test('verify --deep without a terminal: a line at the interval while the nodes hash; --json is the report alone', async () => {
  // Sparse: the nodes read and hash 400 MB of zeros each, and the disk holds none of it.
  for (const n of ['node-a', 'node-b']) await on(lab, n, ['truncate', '-s', '400M', '/srv/app/sparse.bin'])
  let r
  try {
    r = await run('verify', ['--check', 'sync-drift', '--deep', '--json'])
  } finally {
    for (const n of ['node-a', 'node-b']) await on(lab, n, ['rm', '-f', '/srv/app/sparse.bin'])
  }
  assert.is(r.code, 0, r.stdout + r.stderr)
  const rep = JSON.parse(r.stdout)
  assert.ok(
    rep.checks.every((c: any) => c.check === 'sync-drift' && c.ok),
    r.stdout,
  )
  const lines = progressLines(r, 'verify: ', 2)
  for (const l of lines) assert.match(l, VERIFY)
  assert.ok(
    lines.some((l) => l.includes('hashing app')),
    lines.join('\n'),
  )
})

test('a quick verify at the default interval prints no progress line', async () => {
  const r = await run('verify', ['--check', 'sync-drift', '--json'], {})
  assert.is(r.code, 0, r.stdout + r.stderr)
  JSON.parse(r.stdout)
  assert.not.match(r.stderr, /^verify: /m)
})

const RESTORE_IN = 'cd /var/backups/app && f=$(ls app-*.tar.gz)'

test("backup-verify --restore without a terminal: a line at the interval, the restore's bytes as the node measures them; --json alone", async () => {
  // On node-a an archive of 600 MB of files, mostly zeros so that it stays under the backup's 100 MiB maxBytes,
  // with its checksum and manifest as the backup job writes them.
  await script(
    lab,
    'node-a',
    `set -e; mkdir -p /tmp/big/app; head -c 20000000 /dev/urandom > /tmp/big/app/noise; head -c 580000000 /dev/zero > /tmp/big/app/zeros; ${RESTORE_IN}; tar -cf - -C /tmp/big app | gzip -1 > "$f"; sha256sum "$f" > SHA256SUMS; tar -tzf "$f" > "$f.list"; rm -rf /tmp/big`,
  )
  // A reading every 200 ms, so that several fall inside an extraction of a second or two.
  const r = await run('backup-verify', ['--restore', '--json'], { HAPAIR_PROGRESS_EVERY_MS: '200' })
  assert.is(r.code, 0, r.stdout + r.stderr)
  const rep = JSON.parse(r.stdout)
  assert.match(rep.checks.find((c: any) => c.node === 'node-a' && c.check === 'app:restore').detail, /^test restore of app-\S+: 2 files match/)
  const lines = progressLines(r, 'backup-verify: ', 2, 200)
  for (const l of lines) assert.match(l, /^backup-verify: [012] of 2 done, \d+ s elapsed(; node-[ab] app: [^;]+, \d+ s)*$/)
  assert.ok(
    lines.some((l) => /node-a app: (reading app-\S+ end to end|sha256 of app-\S+|test restore of app-\S+)/.test(l)),
    lines.join('\n'),
  )
  // The node's own readings during the extraction: bytes of the size the listing gives, never more.
  const measured = lines.map((l) => / test restore of app-\S+: ([\d.]+ [kM]?B) of ([\d.]+ MB) \((\d+)%\)/.exec(l)).filter(Boolean)
  console.log(`      restore readings: ${measured.map((m) => `${m![1]} of ${m![2]}`).join(', ') || 'none'}`)
  assert.ok(measured.length >= 1, `no reading of the restore's bytes:\n${lines.join('\n')}`)
  for (const m of measured) {
    assert.is(m![2], '600 MB')
    assert.ok(Number(m![3]) <= 100)
  }
})

const SYNC = /^demo: (\d+) files, ([\d.]+ [kMG]?B)( of ~[\d.]+ [kMG]?B \(\d+%\))?, ([\d.]+ [kMG]?B)\/s, (.+) left \((app|config) -> node-a\)$/

test("failback without a terminal: the sync-back's progress at the interval on stderr; --json is the result alone", async () => {
  const pool = new SshPool(lab.inv)
  try {
    const r = await runFailover(lab.inv, pool, lab.inv.data.pairs[0], { operation: 'failover', to: 'node-b', force: true })
    assert.ok(r.ok, r.error)
  } finally {
    pool.close()
  }
  // node-b is active: what it has is what the failback brings to node-a, over a slow link.
  await script(lab, 'node-b', 'head -c 2000000 /dev/urandom > /srv/app/back.bin; head -c 2000000 /dev/urandom > /srv/config/back.bin')
  await on(lab, 'node-b', ['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', '8mbit', 'burst', '32kbit', 'latency', '400ms'])
  let r
  try {
    r = await run('failback', ['--yes', '--json'], { HAPAIR_PROGRESS_EVERY_MS: '1000' })
  } finally {
    await lab.exec('node-b', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
  }
  assert.is(r.code, 0, r.stdout + r.stderr)
  const res = JSON.parse(r.stdout)
  assert.match(JSON.stringify(res), /sync-back/)
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('demo: '))
  console.log(`      ${(r.ms / 1000).toFixed(1)} s failback, ${lines.length} progress lines; last: ${lines.at(-1)}`)
  assert.not.match(r.stderr, /\r|\x1b/)
  assert.ok(lines.length >= 2, `${lines.length} progress lines in ${r.ms} ms:\n${r.stderr}`)
  for (const l of lines) assert.match(l, SYNC)
  assert.ok(
    lines.some((l) => !/^demo: \d+ files, 0 B,/.test(l)),
    lines.join('\n'),
  )
  assert.not.match(r.stdout, /left \(/)
  assert.equal(await lab.holders(lab.inv.data.pairs[0].floatingIps![0].address), ['node-a'])
})

test.run()
