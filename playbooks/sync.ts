// npx zx playbooks/sync.ts [--inventory F] [--pair P] [--item NAME…] [--to NODE] [--from NODE] [--dry-run] [--bootstrap NODE] [--timeout S] [--force] [--json] [--verbose]
import { inventoryFrom, parseArgs, runPlaybook, scriptArgv } from '../lib/cli.ts'
import { EXIT, InputError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { stderrProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'
import { SyncProgress } from '../lib/sync/progress.ts'
import { runSync } from '../lib/sync/index.ts'
import { formatReport, jsonReport } from '../lib/sync/report.ts'
import { FOLLOW_USAGE, followMain } from '../lib/sync/follow/cli.ts'

const usage = `usage: npx zx playbooks/sync.ts [--inventory FILE] [--pair NAME] [--item NAME]... [--to NODE] [--from NODE]
                                [--dry-run] [--bootstrap NODE] [--timeout SECONDS] [--force] [--json] [--verbose]
  Copies every sync item from the pair's active node to its other nodes, highest priority first.
  --item NAME      only these items (repeat, or comma-separate)
  --to NODE        only this target
  --from NODE      assert the source: refused (exit 3) unless NODE is the active node
  --bootstrap NODE full copy of every item onto a new or rebuilt node
  --dry-run        list what would change, change nothing
  --timeout S      a target that moves no data for S seconds is lost (default 60)
  --force          mirror deletions over the item's maxDelete limit go ahead (without it: refused, exit 3, paths listed)
  --verbose        each phase with its time, on stderr
  progress         while items transfer, stderr shows files and bytes done, rate and time left:
                   a live line on a terminal, else a line every 3 s
  exit 0: all delivered; 1: failed; 2: bad input; 3: refused (direction guard, or mirror deletions over maxDelete); 4: degraded (changes held for an unreachable target)

${FOLLOW_USAGE}`

await runPlaybook(async () => {
  if (scriptArgv().includes('--follow')) return followMain()
  const args = parseArgs({ string: ['inventory', 'pair', 'item', 'to', 'from', 'bootstrap', 'timeout'], boolean: ['dry-run', 'force', 'json', 'verbose'] })
  if (args._.length) throw new InputError(`usage: unexpected argument ${JSON.stringify(String(args._[0]))}`)
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  if (pairs.length > 1 && (args.to || args.from || args.bootstrap)) throw new InputError('--to, --from and --bootstrap name a node: give --pair too')
  const items = ([] as string[]).concat(args.item ?? [])
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
