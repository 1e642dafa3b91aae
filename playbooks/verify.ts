// npx zx playbooks/verify.ts [--inventory F] [--pair P] [--check NAME…] [--deep] [--json] [--junit FILE] [--metrics FILE]
import { checkNames, selectChecks, validateChecks } from '../lib/checks/registry.ts'
import { verifyPair } from '../lib/checks/runner.ts'
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { EXIT } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { checkReportTargets, emitReports } from '../lib/report/index.ts'
import { stderrProgress, StepProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'

const usage = `usage: npx zx playbooks/verify.ts [--inventory FILE] [--pair NAME] [--check NAME[,NAME…]]… [--deep]
                                 [--json] [--junit FILE] [--metrics FILE]
  checks: ${checkNames().join(', ')}
  --deep     sync-drift compares content checksums (hashed on the nodes) instead of size and mtime
  progress   while it runs, stderr shows the checks done, the bytes of the items compared so far and what
             runs now: a live line on a terminal, else a line every 3 s
  exit 0: every check passed on every node; 1: some check failed; 2: bad input (nothing touched)`

await runPlaybook(async () => {
  const args = parseArgs({ string: ['inventory', 'pair', 'check', 'junit', 'metrics'], boolean: ['json', 'deep'] })
  const names = [...[args.check ?? []].flat(), ...args._.map(String)]
  const checks = selectChecks(names)
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  validateChecks(checks, pairs)
  const reports = { json: args.json, junit: args.junit, metrics: args.metrics, playbook: 'verify', pairs: pairs.map((p) => p.name) }
  checkReportTargets(reports)
  const pool = new SshPool(inv)
  try {
    // The summary on the nodes means "the whole routine ran"; a partial run does not overwrite it.
    const record = names.length === 0
    // stderr only: stdout is the report (or --json), whatever the progress did.
    const progress = new StepProgress(
      { ...stderrProgress('verify'), bytesWord: args.deep ? 'hashed' : 'listed' },
      pairs.reduce((n, p) => n + checks.filter((c) => c.appliesTo?.(p) ?? true).length, 0),
    )
    const results = (
      await Promise.all(pairs.map((p) => verifyPair(inv, p, pool, checks, { deep: args.deep, record, progress }))).finally(() => progress.stop())
    ).flat()
    process.stdout.write(emitReports(results, reports))
    return results.every((r) => r.ok) ? EXIT.ok : EXIT.failed
  } finally {
    pool.close()
  }
}, usage)
