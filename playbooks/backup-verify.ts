// npx zx playbooks/backup-verify.ts [--inventory F] [--pair P] [--check BACKUP…] [--restore] [--json] [--junit FILE] [--metrics FILE]
import { backupVerifyPair } from '../lib/backup/run.ts'
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { BACKUP_VERIFY } from '../lib/options/backup-verify.ts'
import { EXIT, InputError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { checkReportTargets, emitReports } from '../lib/report/index.ts'
import { stderrProgress, StepProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'

await runPlaybook(async () => {
  const args = parseArgs(BACKUP_VERIFY)
  const names = [...args.check, ...args._]
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
}, helpText(BACKUP_VERIFY))
