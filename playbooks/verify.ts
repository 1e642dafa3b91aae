// npx zx playbooks/verify.ts [--inventory F] [--pair P] [--check NAME…] [--deep] [--json] [--junit FILE] [--metrics FILE]
import { checkNames, selectChecks, validateChecks } from '../lib/checks/registry.ts'
import { verifyPair } from '../lib/checks/runner.ts'
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { VERIFY } from '../lib/options/verify.ts'
import { EXIT } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { checkReportTargets, emitReports } from '../lib/report/index.ts'
import { stderrProgress, StepProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'

// The check names come from the registry, which the definition must not load.
const usage = helpText(VERIFY, [`checks: ${checkNames().join(', ')}`])

await runPlaybook(async () => {
  const args = parseArgs(VERIFY)
  const names = [...args.check, ...args._]
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
