// npx zx playbooks/backup-verify.ts [--inventory F] [--pair P] [--check BACKUP…] [--restore] [--json] [--junit FILE] [--metrics FILE]
import { backupVerifyPair } from '../lib/backup/run.ts'
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { EXIT, InputError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { checkReportTargets, emitReports } from '../lib/report/index.ts'
import { stderrProgress, StepProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'

const usage = `usage: npx zx playbooks/backup-verify.ts [--inventory FILE] [--pair NAME] [--check BACKUP[,BACKUP…]]… [--restore]
                                        [--json] [--junit FILE] [--metrics FILE]
  for each declared backup on each node: present, age, size, integrity (reads end to end, checksums)
  --restore  also a test restore into a scratch directory on the node, compared with the backup's manifest;
             a PostgreSQL base backup is checked with pg_verifybackup, started (no TCP listener) and queried
  progress   while it runs, stderr shows the backups checked and what runs now (a test restore: the bytes
             written so far of the size the archive lists): a live line on a terminal, else a line every 3 s
  exit 0: every step passed on every node; 1: some step failed; 2: bad input (nothing touched)`

await runPlaybook(async () => {
  const args = parseArgs({ string: ['inventory', 'pair', 'check', 'junit', 'metrics'], boolean: ['json', 'restore'] })
  const names = [...[args.check ?? []].flat(), ...args._.map(String)]
    .flatMap((n) => String(n).split(','))
    .map((n) => n.trim())
    .filter(Boolean)
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  const declared = new Set(pairs.flatMap((p) => (p.backups ?? []).map((b) => b.name)))
  const unknown = names.filter((n) => !declared.has(n))
  if (unknown.length)
    throw new InputError(`unknown backup${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (declared: ${[...declared].join(', ') || 'none'})`)
  if (declared.size === 0) throw new InputError(`${inv.file}: no backups declared in ${pairs.map((p) => p.name).join(', ')}: nothing to verify`)
  const reports = { json: args.json, junit: args.junit, metrics: args.metrics, playbook: 'backup-verify', pairs: pairs.map((p) => p.name) }
  checkReportTargets(reports)
  const pool = new SshPool(inv)
  const chosen = (p: (typeof pairs)[number]) => (p.backups ?? []).filter((b) => names.length === 0 || names.includes(b.name))
  // stderr only: stdout is the report (or --json), whatever the progress did.
  const progress = new StepProgress(
    stderrProgress('backup-verify'),
    pairs.reduce((n, p) => n + p.nodes.length * chosen(p).length, 0),
  )
  try {
    const results = (
      await Promise.all(pairs.map((p) => backupVerifyPair(p, pool, chosen(p), { restore: args.restore, progress }))).finally(() => progress.stop())
    ).flat()
    process.stdout.write(emitReports(results, reports))
    return results.every((r) => r.ok) ? EXIT.ok : EXIT.failed
  } finally {
    pool.close()
  }
}, usage)
