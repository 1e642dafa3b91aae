// backup-verify --restore on real PostgreSQL base backups: pg_basebackup -Ft -z of the lab's
// primary, taken on each node, is extracted, checked with pg_verifybackup, started as a
// throwaway server and queried; a truncated archive, a backup without its WAL, a failing query
// and a controller that gives up each fail with their reason, and none leaves a server process
// or a scratch directory behind.
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { backupVerifyPair } from '../../lib/backup/run.ts'
import { parseBackupListing, listScript } from '../../lib/backup/inspect.ts'
import { pgIntegrity, pgRestore } from '../../lib/backup/postgres.ts'
import type { CheckResult } from '../../lib/checks/types.ts'
import type { Backup, Pair, PgBackup } from '../../lib/inventory/schema.ts'
import { labPgService } from '../../lib/lab/postgres.ts'
import { nsPids } from '../../lib/lab/node.ts'
import { nodeNs } from '../../lib/lab/plan.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'

const BIN = '/usr/lib/postgresql/15/bin'
const ROWS = 500
// Asked of the throwaway server itself: it counts the rows only when it listens on no TCP port,
// archives nothing, follows no primary and is out of recovery.
const QUERY = `SELECT count(*) FROM verify_rows WHERE current_setting('listen_addresses') = '' AND current_setting('archive_mode') = 'off'
  AND current_setting('primary_conninfo') = '' AND NOT pg_is_in_recovery() AND NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver)`
const PG_BACKUP: Backup = { name: 'pg', path: '/var/backups/pg', maxAgeHours: 1, minBytes: 100_000, postgresql: { database: 'app', query: QUERY } }

let lab: TestLab
let pool: SshPool
let pair: Pair
const scratchBefore = new Set<string>()

test.before(async () => {
  try {
    await setUp()
  } catch (e) {
    console.error(e)
    throw e
  }
})
async function setUp() {
  for (const d of readdirSync('/var/tmp')) scratchBefore.add(d)
  lab = await startTestLab({
    mutate: (j) => {
      const p = j.pairs[0]
      p.services = p.services.map((s: { name: string }) => (s.name === 'db' ? labPgService('async') : s))
      p.backups.push(PG_BACKUP)
    },
  })
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
  await sh(
    'node-a',
    `cd / && runuser -u postgres -- ${BIN}/psql -XAtq -v ON_ERROR_STOP=1 -h /var/run/postgresql -d app -c 'CREATE TABLE verify_rows AS SELECT generate_series(1, ${ROWS}) AS n'`,
  )
  // The backup job: on each node, a base backup of the primary over the replication connection.
  const primary = pair.nodes[0].address
  await Promise.all(
    pair.nodes.map((n) =>
      sh(
        n.name,
        `chmod 755 /var/backups && mkdir -p /var/backups/pg && chown postgres: /var/backups/pg && cd / && ` +
          `runuser -u postgres -- env PGPASSFILE=/var/lib/postgresql/hapair-replication.pgpass ${BIN}/pg_basebackup -h ${primary} -U replicator ` +
          `-D /var/backups/pg/$(date -u +%Y%m%dT%H%M%S) -Ft -z -c fast`,
      ),
    ),
  )
}
test.after(async () => {
  pool?.close()
  await lab?.down()
})

async function sh(node: string, script: string): Promise<string> {
  const r = await lab.exec(node, ['sh', '-c', script], { timeoutMs: 60_000 })
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}
const only = (node: string): Pair => ({ ...pair, nodes: pair.nodes.filter((n) => n.name === node) })
const withPg = (pg: PgBackup): Backup => ({ ...PG_BACKUP, postgresql: { ...PG_BACKUP.postgresql, ...pg } })
/** A copy of the newest backup, newer than it, changed by `change` (run inside the copy). */
const COPY = (change: string) =>
  'cd /var/backups/pg && src=$(ls | grep -v broken | tail -n 1) && cp -a "$src" broken && cd broken && ' + change + ' && touch -d "1 minute" *'

/** What a test restore may leave behind: server or guard processes in the node, scratch directories. */
function leftovers(node: string): string[] {
  const procs = nsPids(nodeNs(lab.inv.data.lab!.name, node))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')
      } catch {
        return ''
      }
    })
    .filter((c) => /hapair-pgrestore|hapair-verify/.test(c))
  const dirs = readdirSync('/var/tmp').filter((d) => d.startsWith('hapair-pgrestore.') && !scratchBefore.has(d))
  return [...procs, ...dirs]
}
/** The guard may take up to a second to notice its script is gone. */
async function nothingLeft(node: string, ms = 8000) {
  const end = Date.now() + ms
  while (leftovers(node).length && Date.now() < end) await new Promise((r) => setTimeout(r, 200))
  assert.equal(leftovers(node), [], `left behind on ${node}`)
}
const bad = (rs: CheckResult[]) => rs.filter((r) => !r.ok).map((r) => `${r.node}/${r.check}`)

test('a real pg_basebackup opens: extracted, pg_verifybackup passes, the throwaway server (no TCP, no archiving, no primary) starts and counts the rows (exit 0)', async () => {
  const t0 = Date.now()
  const r = await playbook('backup-verify', ['--inventory', lab.file, '--check', 'pg', '--restore', '--json'], { timeoutMs: 60_000 })
  const wall = Date.now() - t0
  assert.is(r.code, 0, r.stdout + r.stderr)
  const out = json(r)
  assert.equal(
    out.checks.map((c: CheckResult) => `${c.node}/${c.check}`),
    ['node-a', 'node-b'].flatMap((n) => ['present', 'age', 'size', 'integrity', 'restore'].map((s) => `${n}/pg:${s}`)),
  )
  for (const n of ['node-a', 'node-b']) {
    const c = (s: string) => out.checks.find((x: CheckResult) => x.node === n && x.check === `pg:${s}`)
    assert.match(
      c('integrity').detail,
      /^\d{8}T\d{6}: base\.tar\.gz \(\d+ members\), pg_wal\.tar\.gz \(\d+ members\) read end to end; backup_manifest present$/,
    )
    assert.match(
      c('restore').detail,
      new RegExp(
        `^\\d{8}T\\d{6}: verified: base\\.tar\\.gz \\+ pg_wal\\.tar\\.gz extracted \\(.+\\), pg_verifybackup passed \\(.+\\), started in .+, SELECT count\\(\\*\\) FROM verify_rows WHERE current_setting\\('l\\.\\.\\. returned ${ROWS} \\(.+\\); stopped, scratch removed$`,
      ),
    )
    console.log(`  ${n} restore ${Math.round(c('restore').ms)} ms: ${c('restore').detail}`)
  }
  console.log(`  backup-verify --check pg --restore, both nodes, wall ${wall} ms`)
  await nothingLeft('node-a')
  await nothingLeft('node-b')
})

test("verify's backups check reads a PostgreSQL backup directory: finish time and total size", async () => {
  const r = await playbook('verify', ['--inventory', lab.file, '--check', 'backups', '--json'], { timeoutMs: 60_000 })
  assert.is(r.code, 0, r.stdout + r.stderr)
  for (const c of json(r).checks) assert.match(c.detail, /pg: \d{8}T\d{6} finished .* ago\), max 1 h, \d+(\.\d)? (KiB|MiB)/)
})

test('a truncated base.tar.gz fails integrity with why, the restore is not attempted; extracting it anyway fails "extract failed"; nothing is left (exit 1)', async () => {
  await sh('node-a', COPY('s=$(stat -c %s base.tar.gz) && truncate -s $((s / 2)) base.tar.gz'))
  try {
    const r = await playbook('backup-verify', ['--inventory', lab.file, '--check', 'pg', '--restore', '--json'], { timeoutMs: 60_000 })
    assert.is(r.code, 1, r.stdout + r.stderr)
    const checks: CheckResult[] = json(r).checks
    assert.equal(bad(checks), ['node-a/pg:integrity', 'node-a/pg:restore'])
    assert.match(checks[3].detail, /^broken\/base\.tar\.gz does not read end to end \(test: gzip: .*unexpected end of file.*\): the backup is damaged/)
    assert.match(checks[4].detail, /^not attempted: broken does not read end to end$/)
    // What the restore does with it when asked anyway (a tar that reads but does not extract ends the same way).
    const s = pool.session(pair, pair.nodes[0])
    const newest = parseBackupListing((await s.run({ script: listScript(PG_BACKUP) })).stdout, PG_BACKUP).archives[0]
    assert.is(newest.name, 'broken')
    const v = await pgRestore(s, PG_BACKUP as Backup & { postgresql: PgBackup }, newest, { ok: true, detail: '', needBytes: 1 })
    assert.is(v.ok, false)
    assert.match(v.detail, /^broken: extract failed: base\.tar\.gz: gzip: stdin: unexpected end of file.*; the backup is damaged, take a new one$/, v.detail)
    await nothingLeft('node-a')
  } finally {
    await sh('node-a', 'rm -rf /var/backups/pg/broken')
  }
})

test('a backup that extracts but whose WAL is missing does not start, and says so', async () => {
  await sh('node-b', COPY('rm pg_wal.tar.gz'))
  try {
    const rs = await backupVerifyPair(only('node-b'), pool, [PG_BACKUP], { restore: true })
    assert.equal(bad(rs), ['node-b/pg:restore'])
    assert.match(
      rs[3].detail,
      /^broken: base\.tar\.gz \(\d+ members\) read end to end; backup_manifest present; no pg_wal\.tar\*: the WAL must be inside base\.tar/,
    )
    assert.match(
      rs[4].detail,
      /^broken: did not start \(there is no pg_wal\.tar\* beside base\.tar\.gz: .*\): FATAL: could not locate required checkpoint record; the server exited during start-up; its log ends: .*FATAL: could not locate required checkpoint record/,
      rs[4].detail,
    )
    await nothingLeft('node-b')
  } finally {
    await sh('node-b', 'rm -rf /var/backups/pg/broken')
  }
})

test('a changed data file fails pg_verifybackup against backup_manifest', async () => {
  // Rewritten with one file emptied: the archive reads end to end, only the manifest knows.
  await sh('node-a', COPY('mkdir x && tar -xzf base.tar.gz -C x && : > x/PG_VERSION && tar -czf base.tar.gz -C x . && rm -rf x'))
  try {
    const rs = await backupVerifyPair(only('node-a'), pool, [PG_BACKUP], { restore: true })
    assert.equal(bad(rs), ['node-a/pg:restore'])
    assert.match(
      rs[4].detail,
      /^broken: pg_verifybackup failed, 1 problem: .*"PG_VERSION" has size 0 on disk but size 3 in the manifest.*: the backup does not hold what its backup_manifest lists$/,
      rs[4].detail,
    )
    await nothingLeft('node-a')
  } finally {
    await sh('node-a', 'rm -rf /var/backups/pg/broken')
  }
})

test('the declared query decides: 0 rows, a missing table and a query past queryTimeoutMs each fail "query failed"', async () => {
  const cases: [PgBackup, RegExp][] = [
    [
      { query: 'SELECT count(*) FROM verify_rows WHERE n < 0' },
      /but the query failed: SELECT count\(\*\) FROM verify_rows WHERE n < 0 returned "0", not a number above 0 or true$/,
    ],
    [{ query: 'SELECT count(*) FROM orders' }, /but the query failed: SELECT count\(\*\) FROM orders: ERROR: relation "orders" does not exist$/],
    [
      { query: 'SELECT pg_sleep(30)', queryTimeoutMs: 300 },
      /but the query failed: SELECT pg_sleep\(30\): ERROR: canceling statement due to statement timeout$/,
    ],
  ]
  const rs = await backupVerifyPair(
    only('node-a'),
    pool,
    cases.map(([pg], i) => ({ ...withPg(pg), name: `q${i}` })),
    { restore: true },
  )
  assert.equal(bad(rs), ['node-a/q0:restore', 'node-a/q1:restore', 'node-a/q2:restore'])
  cases.forEach(([, re], i) => assert.match(rs[i * 5 + 4].detail, re))
  await nothingLeft('node-a')
})

test('a restore whose controller goes away is stopped and removed on the node at once', async () => {
  // The controller's connection is cut while the query runs: nothing on the node may wait for
  // the query's own 120 s to end.
  const own = new SshPool(lab.inv)
  const s = own.session(pair, pair.nodes[0])
  const b = withPg({ query: 'SELECT pg_sleep(120)', queryTimeoutMs: 120_000 }) as Backup & { postgresql: PgBackup }
  const newest = parseBackupListing((await s.run({ script: listScript(b) })).stdout, b).archives[0]
  const integ = await pgIntegrity(s, b, newest)
  const running = pgRestore(s, b, newest, integ).then(
    (v) => v.detail,
    (e) => (e as Error).message,
  )
  const end = Date.now() + 30_000
  while (!leftovers('node-a').some((p) => p.includes('[local] SELECT')) && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
  assert.ok(
    leftovers('node-a').some((p) => p.includes('[local] SELECT')),
    'the query never ran',
  )
  const cut = Date.now()
  own.close()
  assert.match(await running, /connection|closed|lost/i)
  await nothingLeft('node-a', 10_000)
  console.log(`  controller gone: server stopped and scratch removed ${Date.now() - cut} ms later`)
})

test.run()
