// npx zx playbooks/sync.ts [--inventory F] [--pair P] [--item NAME…] [--to NODE] [--from NODE] [--dry-run] [--bootstrap NODE] [--timeout S] [--force] [--json] [--verbose]
import { inventoryFrom, parseArgs, runPlaybook, scriptArgv } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { SYNC, SYNC_FOLLOW } from '../lib/options/sync.ts'
import { EXIT, InputError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { stderrProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'
import { SyncProgress } from '../lib/sync/progress.ts'
import { runSync } from '../lib/sync/index.ts'
import { formatReport, jsonReport } from '../lib/sync/report.ts'
import { followMain } from '../lib/sync/follow/cli.ts'

const usage = `${helpText(SYNC)}

${helpText(SYNC_FOLLOW)}`

await runPlaybook(async () => {
  if (scriptArgv().includes('--follow')) return followMain()
  const args = parseArgs(SYNC)
  if (args._.length) throw new InputError(`usage: unexpected argument ${JSON.stringify(args._[0])}`)
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  if (pairs.length > 1 && (args.to || args.from || args.bootstrap)) throw new InputError('--to, --from and --bootstrap name a node: give --pair too')
  const items = args.item
  const timeout = args.timeout === undefined ? undefined : Number(args.timeout)
  const pool = new SshPool(inv)
  try {
    const reports = []
    for (const pair of pairs) {
      // stderr only: stdout is the report (or --json), whatever the progress did.
      const progress = new SyncProgress(stderrProgress(pair.name))
      const rep = await runSync(inv, pair, pool, {
        items,
        to: args.to,
        from: args.from,
        bootstrap: args.bootstrap,
        dryRun: args['dry-run'],
        force: args.force,
        ioTimeoutSec: timeout,
        log: args.verbose ? (l) => progress.print(`${pair.name}: ${l}`) : undefined,
        progress,
      }).finally(() => progress.stop())
      if (!args.json) console.log(formatReport(rep, { verbose: args.verbose }))
      reports.push(rep)
    }
    if (args.json) console.log(jsonReport(pairs.length === 1 ? reports[0] : { pairs: reports }))
    const codes = reports.map((r) => r.exitCode)
    return codes.includes(EXIT.failed) ? EXIT.failed : codes.includes(EXIT.refused) ? EXIT.refused : codes.includes(EXIT.degraded) ? EXIT.degraded : EXIT.ok
  } finally {
    pool.close()
  }
}, usage)
