// bench/backup-verify: how long backup-verify --restore takes to prove a PostgreSQL base backup
// opens, phase by phase (extract, pg_verifybackup, start, query), against the floor of plainly
// extracting the same two archives on the same node. The lab's primary is filled with pgbench
// tables (scale 1 is about 16 MB of data; scale 0: the lab's database as it is), backed up once
// with pg_basebackup -Ft -z, and the backup is restored R times on node-a.
//   node --import tsx bench/backup-verify/run.ts [--scale S] [--reps R] [--out FILE]
import { writeFileSync } from 'node:fs'
import { minimist } from 'zx'
import { listScript, parseBackupListing } from '../../lib/backup/inspect.ts'
import { parsePgRestore, pgIntegrity, pgParts, pgRestore, pgRestoreScript, pgBackupSettings, tarFlag, pgKind } from '../../lib/backup/postgres.ts'
import type { Backup, PgBackup } from '../../lib/inventory/schema.ts'
import type { ArchiveKind } from '../../lib/backup/integrity.ts'
import { labPgService } from '../../lib/lab/postgres.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab } from '../../test/helpers/lab.ts'

const args = minimist(process.argv.slice(2), { string: ['scale', 'reps', 'out'] })
const scale = Number(args.scale ?? 10)
const reps = Number(args.reps ?? 5)
const BIN = '/usr/lib/postgresql/15/bin'
const b = {
  name: 'pg',
  path: '/var/backups/pg',
  postgresql: { database: 'app', query: scale ? 'SELECT count(*) FROM pgbench_accounts' : 'SELECT 1' },
} as Backup & { postgresql: PgBackup }
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
const secs = (ms: number) => (ms / 1000).toFixed(2)

const lab = await startTestLab({
  mutate: (j) => {
    const p = j.pairs[0]
    p.services = p.services.map((s: { name: string }) => (s.name === 'db' ? labPgService('async') : s))
  },
})
try {
  const sh = async (script: string) => {
    const r = await lab.exec('node-a', ['sh', '-c', script], { timeoutMs: 3_600_000 })
    if (r.code !== 0) throw new Error(`${script}: ${r.stderr}`)
    return r.stdout
  }
  const t0 = Date.now()
  if (scale) await sh(`cd / && runuser -u postgres -- ${BIN}/pgbench -i -q -s ${scale} -h /var/run/postgresql app 2>&1 | tail -n 1`)
  const primary = lab.inv.data.pairs[0].nodes[0].address
  await sh(
    `chmod 755 /var/backups && mkdir -p /var/backups/pg && chown postgres: /var/backups/pg && cd / && runuser -u postgres -- env PGPASSFILE=/var/lib/postgresql/hapair-replication.pgpass ${BIN}/pg_basebackup -h ${primary} -U replicator -D /var/backups/pg/bench -Ft -z -c fast`,
  )
  const sizes = (await sh('du -sb /var/lib/postgresql/15/lab /var/backups/pg/bench | cut -f1')).trim().split('\n').map(Number)
  console.log(
    `pgbench scale ${scale}: data directory ${(sizes[0] / 2 ** 20).toFixed(0)} MiB, backup ${(sizes[1] / 2 ** 20).toFixed(0)} MiB (made in ${secs(Date.now() - t0)} s)`,
  )

  const pool = new SshPool(lab.inv)
  const pair = lab.inv.data.pairs[0]
  const s = pool.session(pair, pair.nodes[0])
  const newest = parseBackupListing((await s.run({ script: listScript(b) })).stdout, b).archives[0]
  const integ = await pgIntegrity(s, b, newest)
  const parts = pgParts(newest)
  const kind = (f: string) => ({ name: f, flag: tarFlag(pgKind(f) as ArchiveKind) })
  // The same script as backup-verify, for its per-phase figures.
  const script = pgRestoreScript({
    dir: `${b.path}/${newest.name}`,
    base: kind(parts.base!),
    wal: kind(parts.wal!),
    manifest: true,
    needBytes: integ.needBytes!,
    pg: pgBackupSettings(b.postgresql),
  })
  const FLOOR = `d=$(mktemp -d /var/tmp/bench-extract.XXXXXX) && mkdir "$d/pg_wal" && tar -xzf ${b.path}/${newest.name}/base.tar.gz -C "$d" && tar -xzf ${b.path}/${newest.name}/pg_wal.tar.gz -C "$d/pg_wal"; rc=$?; rm -rf "$d"; exit $rc`
  await pgRestore(s, b, newest, integ) // warms the page cache and the connection
  const t = {
    total: [] as number[],
    extract: [] as number[],
    verify: [] as number[],
    start: [] as number[],
    query: [] as number[],
    stop: [] as number[],
    floor: [] as number[],
  }
  for (let r = 0; r < reps; r++) {
    const a = performance.now()
    const out = await s.run({ script }, { timeoutMs: 3_600_000 })
    t.total.push(performance.now() - a)
    if (out.code !== 0) throw new Error(`restore failed: ${out.stderr}`)
    const ms = parsePgRestore(out.stdout).ms
    for (const k of ['extract', 'verify', 'start', 'query', 'stop'] as const) t[k].push(ms[k])
    const f = performance.now()
    await s.run({ script: FLOOR }, { timeoutMs: 3_600_000 })
    t.floor.push(performance.now() - f)
    console.log(
      `rep ${r + 1}: total ${secs(t.total[r])} s (extract ${secs(ms.extract)}, pg_verifybackup ${secs(ms.verify)}, start ${secs(ms.start)}, query ${secs(ms.query)}, stop ${secs(ms.stop)}); plain tar -x ${secs(t.floor[r])} s`,
    )
  }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]))
  console.log(
    `median of ${reps}: verify of the backup ${secs(m.total)} s = extract ${secs(m.extract)} + pg_verifybackup ${secs(m.verify)} + start ${secs(m.start)} + query ${secs(m.query)} + stop ${secs(m.stop)}; plain extraction ${secs(m.floor)} s`,
  )
  if (args.out) writeFileSync(args.out, JSON.stringify({ scale, bytes: { data: sizes[0], backup: sizes[1] }, reps, ms: t, median: m }, null, 2) + '\n')
  pool.close()
} finally {
  await lab.down()
}
