import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { shJoin } from '../../lib/shell.ts'
import { protectRules } from '../../lib/sync/filters.ts'
import { classifyExit, hopProblems, parseItemized, parseStats, rsyncArgv, sshCommand, RSYNC_EXIT, type RsyncOptions } from '../../lib/sync/rsync.ts'

const base: RsyncOptions = {
  item: { name: 'app', path: '/srv/app' },
  protect: [],
  ioTimeoutSec: 60,
  target: { user: 'root', address: '198.51.100.12', port: 22, hostKeyAlias: 'hapair-web@node-b' },
  keyFile: '/var/lib/hapair/ssh/id_ed25519',
  knownHostsFile: '/var/lib/hapair/ssh/known_hosts',
}

test('argv: atomic delivery, resumable, stats, names inside the protocol, paths after --', () => {
  const argv = rsyncArgv(base)
  for (const f of ['-a', '-s', '--partial-dir=/srv/app/.~tmp~', '--stats', '--no-human-readable', '--timeout=60']) assert.ok(argv.includes(f), f)
  for (const f of ['--filter=P /.~tmp~', '--filter=- /.~tmp~']) assert.ok(argv.includes(f), `${f}: the partial directory is neither sent nor deleted`)
  for (const f of ['--inplace', '--append', '--append-verify', '--partial']) assert.not.ok(argv.includes(f), `${f} would expose half-written files`)
  assert.equal(argv.slice(-3), ['--', '/srv/app/', 'root@198.51.100.12:/srv/app/'])
  assert.not.ok(
    argv.some((a) => a.startsWith('--delete')),
    'no deletion unless mirror',
  )
  assert.not.ok(argv.includes('--dry-run'))
})

test('argv: the hop pins the host key, never trusts on first use, never prompts', () => {
  const e = rsyncArgv(base)[rsyncArgv(base).indexOf('-e') + 1]
  assert.match(e, '-o StrictHostKeyChecking=yes')
  assert.match(e, '-o UserKnownHostsFile=/var/lib/hapair/ssh/known_hosts')
  assert.match(e, '-o BatchMode=yes')
  assert.match(e, '-i /var/lib/hapair/ssh/id_ed25519 -o IdentitiesOnly=yes')
  assert.not.match(e, /StrictHostKeyChecking=(no|accept-new|off)/)
  assert.match(sshCommand({ ...base, target: { ...base.target, port: 2222 } }), /-p 2222$/)
  assert.not.match(sshCommand({ ...base, keyFile: undefined }), '-i ')
})

test("argv: the hop looks the key up under hapair's alias only, in hapair's file only, with no ssh_config at all", () => {
  const e = sshCommand(base).split(' ')
  assert.equal(e.slice(0, 3), ['ssh', '-F', '/dev/null'])
  // What ssh itself makes of these words (ssh -G prints the effective settings, connects nowhere).
  const r = spawnSync('ssh', ['-G', ...e.slice(1), 'root@198.51.100.12'], { encoding: 'utf8' })
  assert.is(r.status, 0, r.stderr)
  const got = Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
  )
  assert.equal(
    [got.hostkeyalias, got.userknownhostsfile, got.globalknownhostsfile, got.stricthostkeychecking, got.checkhostip, got.updatehostkeys, got.batchmode],
    ['hapair-web@node-b', '/var/lib/hapair/ssh/known_hosts', '/dev/null', 'true', 'no', 'false', 'yes'],
  )
  assert.not.ok(got.proxycommand || got.proxyjump || got.knownhostscommand, JSON.stringify(got))
})

test('argv: mirror deletes after the transfer; protected paths are protected and not sent; excludes pass through', () => {
  const argv = rsyncArgv({ ...base, item: { ...base.item, mirror: true, exclude: ['*.tmp', 'cache/'] }, protect: ['local', '.rhosts'] })
  assert.ok(argv.includes('--delete-delay'))
  for (const f of ['--filter=P /local', '--filter=- /local', '--filter=P /.rhosts', '--filter=- /.rhosts', '--exclude=*.tmp', '--exclude=cache/'])
    assert.ok(argv.includes(f), f)
  assert.ok(argv.indexOf('--filter=P /local') < argv.indexOf('--'))
})

test('argv: dry run itemises and changes nothing', () => {
  const argv = rsyncArgv({ ...base, dryRun: true })
  assert.ok(argv.includes('--dry-run'))
  assert.ok(argv.includes('--out-format=%i %n%L'))
})

const hostile = ['/srv/my app', "/srv/it's", '/srv/$(touch /tmp/pwned)', '/srv/a;b', '/srv/-rf', '/srv/ünï', '/srv/`id`', '/srv/a\nb']
for (const p of hostile)
  test(`argv: hostile item path ${JSON.stringify(p)} stays one quoted word`, () => {
    const argv = rsyncArgv({ ...base, item: { name: 'x', path: p } })
    assert.is(argv.at(-2), p + '/')
    assert.is(argv.at(-1), `root@198.51.100.12:${p}/`)
    // What lib/ssh.ts sends: run it through a real shell, printing the words back.
    const line = shJoin(['printf', '%s\\0', ...argv])
    const back = execFileSync('sh', ['-c', line]).toString().split('\0').slice(0, -1)
    assert.equal(back, argv)
    assert.not.ok(existsSync('/tmp/pwned'))
  })

test("hopProblems: the known_hosts is required; key paths must survive rsync's -e splitting", () => {
  assert.equal(hopProblems({ keyFile: '/k', knownHostsFile: '/kh' }), [])
  assert.match(hopProblems({ keyFile: '/k' })[0], 'nodeKnownHostsFile is required')
  for (const bad of ['/my key', "/k'", '/k"', '/k\\x', '/k\tx']) assert.is(hopProblems({ keyFile: bad, knownHostsFile: '/kh' }).length, 1, bad)
  assert.is(hopProblems({ knownHostsFile: '/a b' }).length, 1)
})

// code, stderr, ok, link, text in the reason
const exits: [number | null, string, boolean, boolean, string][] = [
  [0, '', true, false, ''],
  [24, 'file has vanished: "/srv/app/x"', true, false, 'vanished'],
  [
    23,
    'rsync: [receiver] mkstemp "/srv/app/x" failed: Permission denied (13)\nrsync error: some files/attrs were not transferred (code 23)',
    false,
    false,
    'Permission denied',
  ],
  [30, 'rsync error: timeout in data send/receive (code 30)', false, true, 'timeout'],
  [12, 'rsync: connection unexpectedly closed (0 bytes received so far) [sender]', false, true, 'protocol data stream'],
  [255, 'ssh: connect to host 198.51.100.12 port 22: Connection timed out', false, true, 'Connection timed out'],
  [255, 'ssh: connect to host 198.51.100.12 port 22: No route to host', false, true, 'No route'],
  [255, 'Host key verification failed.\nrsync: connection unexpectedly closed', false, false, 'host key verification failed'],
  [255, 'root@198.51.100.12: Permission denied (publickey).', false, false, 'not authorised'],
  [12, 'sh: 1: rsync: not found\nrsync: connection unexpectedly closed', false, false, 'rsync is not installed on the target'],
  [3, 'rsync: change_dir "/srv/nope" failed: No such file or directory (2)', false, false, '--bootstrap'],
  [11, 'rsync: write failed on "/srv/app/big": No space left on device (28)', false, false, 'No space left'],
  [127, 'sh: rsync: not found', false, false, 'not installed'],
  [99, 'weird', false, false, 'unknown error'],
  [null, '', false, true, 'lost connection'],
]
for (const [code, stderr, ok, link, text] of exits)
  test(`classifyExit(${code}, ${JSON.stringify(stderr.slice(0, 40))})`, () => {
    const v = classifyExit(code, stderr)
    assert.is(v.ok, ok)
    assert.is(v.link, link)
    const msg = (v.ok ? v.warning : v.reason) ?? ''
    if (text) assert.match(msg.toLowerCase(), text.toLowerCase())
  })

test('every documented code has a meaning and link codes are the network ones', () => {
  for (const c of [1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 30, 35]) assert.ok(RSYNC_EXIT[c]?.meaning, String(c))
  assert.equal(
    Object.entries(RSYNC_EXIT)
      .filter(([, v]) => v.link)
      .map(([k]) => Number(k))
      .sort((a, b) => a - b),
    [5, 10, 12, 30, 35, 255],
  )
})

const STATS = `
Number of files: 20,005 (reg: 20,000, dir: 5)
Number of created files: 4 (reg: 3, dir: 1)
Number of deleted files: 1 (reg: 1)
Number of regular files transferred: 3
Total file size: 52,431,003 bytes
Total transferred file size: 3,003 bytes
Literal data: 1,234 bytes
Matched data: 0 bytes
File list size: 0
Total bytes sent: 3,261
Total bytes received: 75
`
test('parseStats: separators or not', () => {
  const want = { files: 20000, created: 4, deleted: 1, transferred: 3, literal: 1234, totalSize: 52431003, sent: 3261, received: 75 }
  assert.equal(parseStats(STATS), want)
  assert.equal(parseStats(STATS.replace(/(\d),(\d)/g, '$1$2')), want)
  assert.equal(parseStats('Number of files: 1 (dir: 1)\n').files, 0)
  assert.equal(parseStats('garbage'), { files: 0, created: 0, deleted: 0, transferred: 0, literal: 0, totalSize: 0, sent: 0, received: 0 })
})

test('parseItemized: changes only, not stats or the unchanged root', () => {
  const out = '>f+++++++++ a b\ncd+++++++++ sub/\n*deleting   gone\n.d..t...... ./\ncL+++++++++ l -> t\n\nNumber of files: 5\nTotal bytes sent: 1\n'
  assert.equal(parseItemized(out), ['>f+++++++++ a b', 'cd+++++++++ sub/', '*deleting   gone', '.d..t...... ./', 'cL+++++++++ l -> t'])
})

test('real rsync: the protect rules keep odd protected names untouched and unsent, and --stats parses', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hapair-rsync-'))
  try {
    const src = path.join(dir, 'src'),
      dst = path.join(dir, 'dst')
    const names = ['.rhosts', 'lo*cal', 'we[ir]d', 'sp ace']
    for (const d of [src, dst]) mkdirSync(d)
    for (const n of names) {
      writeFileSync(path.join(src, n), 'source\n')
      writeFileSync(path.join(dst, n), 'target\n')
    }
    writeFileSync(path.join(src, 'data'), 'x'.repeat(5000))
    writeFileSync(path.join(dst, 'extra'), 'gone with --delete')
    writeFileSync(path.join(dst, 'local*'), 'not protected: the * in "lo*cal" is literal')
    const r = spawnSync('rsync', ['-a', '--delete-delay', '--stats', '--no-human-readable', ...protectRules(names), '--', src + '/', dst + '/'], {
      encoding: 'utf8',
    })
    assert.is(r.status, 0, r.stderr)
    for (const n of names) assert.is(readFileSync(path.join(dst, n), 'utf8'), 'target\n', n)
    assert.not.ok(existsSync(path.join(dst, 'extra')))
    assert.not.ok(existsSync(path.join(dst, 'local*')), 'a literal * must not match other names')
    const s = parseStats(r.stdout)
    assert.is(s.transferred, 1)
    assert.is(s.deleted, 2)
    assert.is(s.files, 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
