// PostgreSQL base backups in backup-verify, without a server: how backup directories are listed
// and judged, how the restore script's outcome is reported, that every inventory value reaches
// the script as exactly one word, and the inventory rules. The restore itself runs against real
// PostgreSQL in postgres.lab.test.ts.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judgeListing, listScript, parseBackupListing } from '../../lib/backup/inspect.ts'
import { judgePgRestore, PG_EXIT, pgBackupSettings, pgKind, pgParts, pgRestore, pgRestoreScript, queryPasses, tarFlag } from '../../lib/backup/postgres.ts'
import { InputError, RemoteError } from '../../lib/errors.ts'
import type { NodeSession } from '../../lib/ssh.ts'
import { parseInventory } from '../../lib/inventory/load.ts'
import type { Backup } from '../../lib/inventory/schema.ts'
import { runLocal } from '../checks/_local.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-pgbackup-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))
const b: Backup = { name: 'pg', path: dir, postgresql: {} }

test('listScript: one archive per backup directory with a base.tar*, newest by its newest file, sized as the sum', () => {
  const mk = (d: string, files: Record<string, number>, mtime: number) => {
    mkdirSync(path.join(dir, d), { recursive: true })
    for (const [f, n] of Object.entries(files)) {
      writeFileSync(path.join(dir, d, f), 'x'.repeat(n))
      utimesSync(path.join(dir, d, f), mtime, mtime)
    }
  }
  mk('20240501', { 'base.tar.gz': 100, 'pg_wal.tar.gz': 10, backup_manifest: 5 }, 1714500000)
  mk('20240502 odd name', { 'base.tar.gz': 200, 'pg_wal.tar.gz': 20, backup_manifest: 7 }, 1714600000)
  utimesSync(path.join(dir, '20240502 odd name', 'base.tar.gz'), 1714590000, 1714590000)
  mk('20240503', { 'base.tar.gz': 50, 'backup_manifest.tmp': 1 }, 1714700000)
  mk('junk', { 'notes.txt': 1 }, 1714800000)
  writeFileSync(path.join(dir, 'base.tar.gz'), 'x')
  const l = parseBackupListing(runLocal({ script: listScript(b) }).stdout, b)
  assert.equal(
    l.archives.map((a) => a.name),
    ['20240502 odd name', '20240501'],
  )
  assert.equal(l.archives[0], { name: '20240502 odd name', mtime: 1714600000, size: 227, files: ['backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz'] })
  const only = parseBackupListing(runLocal({ script: listScript({ ...b, pattern: '2024050[1]' }) }).stdout, b)
  assert.equal(
    only.archives.map((a) => a.name),
    ['20240501'],
  )
  // The same listing read as plain archives would find none: the mode is the backup's.
  assert.equal(
    parseBackupListing(runLocal({ script: listScript({ ...b, postgresql: undefined }) }).stdout).archives.map((a) => a.name),
    ['base.tar.gz'],
  )
})

test('judgeListing: no backup directory names what a PostgreSQL backup is', () => {
  const j = judgeListing(b, { now: 1, missingDir: false, archives: [] })
  assert.is(j.present.detail, `no pg_basebackup directory (*, holding base.tar*) in ${dir}: the backup job has not written any`)
})

test('pgParts and pgKind: base, WAL, manifest and tablespaces; lz4 is named, not misread as plain tar', () => {
  assert.equal(pgParts({ name: 'x', mtime: 0, size: 0, files: ['16384.tar.gz', 'backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz'] }), {
    base: 'base.tar.gz',
    wal: 'pg_wal.tar.gz',
    manifest: true,
    tablespaces: ['16384.tar.gz'],
  })
  assert.equal(pgParts({ name: 'x', mtime: 0, size: 0, files: ['base.tar'] }), { base: 'base.tar', wal: undefined, manifest: false, tablespaces: [] })
  assert.equal(tarFlag(pgKind('base.tar.gz') as any), '-z')
  assert.equal(tarFlag(pgKind('base.tar.zst') as any), '--zstd')
  assert.equal(tarFlag(pgKind('base.tar') as any), '')
  assert.match(pgKind('base.tar.lz4') as string, /^base\.tar\.lz4: compression not supported/)
})

test('queryPasses: a number above 0 or true', () => {
  for (const v of ['1', '42', '0.5', '1e3', 't', 'true']) assert.ok(queryPasses(v), v)
  for (const v of [undefined, '', '0', '-3', 'f', 'abc', '0.0']) assert.not.ok(queryPasses(v), String(v))
})

const pg = pgBackupSettings({ query: 'SELECT count(*) FROM orders' })
const parts = pgParts({ name: 'x', mtime: 0, size: 0, files: ['backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz'] })
const LOG =
  'the server exited during start-up; its log ends: LOG: database system was interrupted / FATAL: could not locate required checkpoint record / LOG: database system is shut down'
const outcomes: [string, number, string, string, RegExp][] = [
  [
    'verified',
    0,
    'T extract 1200\nT verify 300\nT start 800\nT query 20\nV 1042\nT stop 90\n',
    '',
    /^b1: verified: base\.tar\.gz \+ pg_wal\.tar\.gz extracted \(1\.2 s\), pg_verifybackup passed \(300 ms\), started in 800 ms, SELECT count\(\*\) FROM orders returned 1042 \(20 ms\); stopped, scratch removed$/,
  ],
  [
    'query returned 0',
    0,
    'T start 800\nV 0\n',
    '',
    /^b1: started in 800 ms, but the query failed: SELECT count\(\*\) FROM orders returned "0", not a number above 0 or true$/,
  ],
  [
    'query error',
    PG_EXIT.query,
    'T start 800\n',
    'ERROR: relation "orders" does not exist\n',
    /^b1: started in 800 ms, but the query failed: SELECT count\(\*\) FROM orders: ERROR: relation "orders" does not exist$/,
  ],
  [
    'extract failed',
    PG_EXIT.extract,
    '',
    'base.tar.gz: gzip: stdin: unexpected end of file\n',
    /^b1: extract failed: base\.tar\.gz: gzip: stdin: unexpected end of file; the backup is damaged/,
  ],
  [
    'server exited',
    PG_EXIT.exited,
    'T extract 5\n',
    LOG,
    /^b1: did not start: FATAL: could not locate required checkpoint record; the server exited during start-up; its log ends: LOG: database/,
  ],
  [
    'not ready in time',
    PG_EXIT.notReady,
    '',
    'not accepting connections after 600 s; its log ends: LOG: redo starts at 0/2000028',
    /^b1: did not start within 600 s \(postgresql\.startTimeoutMs\): not accepting/,
  ],
  [
    'manifest mismatch',
    PG_EXIT.manifest,
    '',
    '2 problems: error: "base/1/1259" has size 0 on disk but size 8192 in the manifest',
    /^b1: pg_verifybackup failed, 2 problems: .*: the backup does not hold what its backup_manifest lists$/,
  ],
  [
    'wrong major version',
    PG_EXIT.version,
    '',
    'the backup is PostgreSQL 16, /usr/lib/postgresql/15/bin/postgres is 15: set postgresql.binDir to the 16 binaries',
    /^b1: not started: the backup is PostgreSQL 16/,
  ],
  [
    'no space',
    PG_EXIT.space,
    '',
    "scratch /var/tmp/x has 3 MiB free, the restore needs 40 MiB: set TMPDIR for the node's login",
    /^b1: not attempted: scratch/,
  ],
]
for (const [name, code, stdout, stderr, re] of outcomes) {
  test(`judgePgRestore: ${name}`, () => {
    const v = judgePgRestore('b1', parts, pg, code, stdout, stderr)
    assert.is(v.ok, name === 'verified')
    assert.match(v.detail, re)
  })
}

test('judgePgRestore: a server that did not start without pg_wal.tar* says the WAL is missing', () => {
  const v = judgePgRestore('b1', { ...parts, wal: undefined }, pg, PG_EXIT.exited, '', LOG)
  assert.match(v.detail, /^b1: did not start \(there is no pg_wal\.tar\* beside base\.tar\.gz: .*\): FATAL: could not locate required checkpoint record/)
})

test('pgRestoreScript: every inventory value reaches the script as exactly one word', () => {
  const hostile = `x'; touch ${dir}/pwned; echo '$(touch ${dir}/pwned2) \`id\` "q" \\ \n-c`
  const s = pgRestoreScript({
    dir: `/var/backups/${hostile}`,
    base: { name: 'base.tar.gz', flag: '-z' },
    manifest: true,
    needBytes: 10,
    pg: { ...pgBackupSettings({}), binDir: `/opt/${hostile}`, database: hostile, query: `SELECT '${hostile}'` },
    port: 45678,
  })
  const body = s.indexOf('\ncd / ||')
  const assignments = s.slice(0, body)
  const r = runLocal({ script: `${assignments}\nprintf '%s\\0' "$A" "$B" "$DB" "$Q" "$P" "$WAL" "$MAN"` })
  assert.equal(r.stdout.split('\0').slice(0, 7), [`/var/backups/${hostile}`, `/opt/${hostile}`, hostile, `SELECT '${hostile}'`, '45678', '', 'yes'])
  assert.throws(() => readFileSync(path.join(dir, 'pwned')))
  assert.throws(() => readFileSync(path.join(dir, 'pwned2')))
  // The body is fixed text: the values appear nowhere but in the assignments.
  assert.not.ok(s.slice(body).includes('pwned'))
})

test("pgRestoreScript: no TCP listener, nothing archived, no primary followed, whatever the backup's configuration", () => {
  const s = pgRestoreScript({ dir: '/b', base: { name: 'base.tar.gz', flag: '-z' }, manifest: false, needBytes: 1, pg: pgBackupSettings({}) })
  for (const opt of [
    '-c listen_addresses= ',
    '-c archive_mode=off',
    '-c primary_conninfo= ',
    '-c unix_socket_directories="$d"',
    '-c synchronous_standby_names= ',
  ])
    assert.ok(s.includes(opt), opt)
  assert.match(s, /rm -f "\$d\/data\/standby\.signal" "\$d\/data\/recovery\.signal"/)
  assert.match(s, /P=(\d+) /)
  const port = Number(/ P=(\d+) /.exec(s)![1])
  assert.ok(port >= 20000 && port < 60000, String(port))
})

test('pgRestore: a controller that stops waiting says so, and that the node cleans up by itself', async () => {
  const s = {
    run: async () => {
      throw new RemoteError('timed out after 3000 ms: sh', { node: 'a', host: '192.0.2.1', timedOut: true })
    },
  } as unknown as NodeSession
  const a = { name: 'b1', mtime: 0, size: 0, files: ['base.tar.gz', 'pg_wal.tar.gz'] }
  const v = await pgRestore(s, { name: 'pg', path: '/b', postgresql: {} }, a, { ok: true, detail: '', needBytes: 1 }, 3000)
  assert.equal(v, { ok: false, detail: 'b1: test restore stopped after 3.0 s (no answer); the node stops its server and removes the scratch' })
  assert.match(
    (await pgRestore(s, { name: 'pg', path: '/b', postgresql: {} }, a, { ok: false, detail: '' })).detail,
    /^not attempted: b1 does not read end to end$/,
  )
})

const inv = (backup: Record<string, unknown>) =>
  JSON.stringify({
    version: 1,
    pairs: [
      {
        name: 'p',
        primary: 'a',
        nodes: [
          { name: 'a', address: '192.0.2.1' },
          { name: 'b', address: '192.0.2.2' },
        ],
        backups: [{ name: 'pg', path: '/var/backups/pg', ...backup }],
      },
    ],
  })
const problems = (text: string): string[] => {
  try {
    parseInventory(text, 'x.json')
    return []
  } catch (e) {
    if (e instanceof InputError) return e.problems
    throw e
  }
}

test('inventory: a postgresql backup validates with its defaults, and refuses what does not apply to it', () => {
  assert.equal(problems(inv({ postgresql: {} })), [])
  assert.equal(problems(inv({ postgresql: { query: 'SELECT count(*) FROM orders', database: 'shop', startTimeoutMs: 60000 } })), [])
  const bad = problems(inv({ checksumFile: 'SHA256SUMS', postgresql: { binDir: '/usr/lib/../bin' } })).join('\n')
  assert.match(bad, /pairs\/0\/backups\/0\/checksumFile.*does not apply to a postgresql backup: its backup_manifest/)
  assert.match(bad, /pairs\/0\/backups\/0\/postgresql\/binDir.*must not contain "\.\."/)
  assert.match(problems(inv({ postgresql: { query: '' } })).join('\n'), /postgresql\/query/)
  assert.match(problems(inv({ postgresql: { port: 5 } })).join('\n'), /postgresql/)
})

test.run()
