// The command line of playbooks/failover.ts and playbooks/failback.ts (one parser: the two take the
// same options but --inflight), checked and made into what runFailover takes.
import { createInterface } from 'node:readline/promises'
import { inventoryFrom, parseArgs, scriptArgv } from '../cli.ts'
import { InputError } from '../errors.ts'
import { INFLIGHT_MODES, type InflightMode } from '../sync/follow/recover.ts'
import { findNode, findPair, type LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import type { FailoverOptions } from './run.ts'
import type { Operation } from './plan.ts'
import { formatStep } from './report.ts'

export const usage = (
  op: Operation,
) => `usage: npx zx playbooks/${op}.ts [--inventory FILE] [--pair NAME] [--to NODE] [--dry-run] [--force] [--resolve] [--yes|-y] [--break-lock] [--json]${op === 'failback' ? ' [--inflight recover|discard]' : ''}
  ${op === 'failover' ? 'Moves the service and its floating IPs to another node (default: the other node of a two-node pair).' : "Returns the service to the inventory's preferred primary, after bringing its data up to date."}
  Converges from any state: every floating IP on the target alone, every singleton only there, its services
  answering, the records naming it. Already so: nothing is done (and the dry run says so).
  --force      proceed past a stale target or an unfenceable node (the risk is printed first)
  --resolve    with --to: the records disagree with what runs and you decided --to is really active
${
  op === 'failback'
    ? `  --inflight   files the target changed before a takeover that never reached the active node (status lists them):
               recover ships the target's versions to the active node first (the copies they replace are kept),
               discard lets the active node's versions overwrite them; without it such a failback refuses
  progress     while the sync-back transfers, stderr shows files and bytes done, rate and time left:
               a live line on a terminal, else a line every 3 s
`
    : ''
}  exit 0 done (or nothing to do), 1 failed (the pair stays locked; re-run to finish), 2 bad input, 3 refused for safety`

async function askOnTerminal(plan: string[]): Promise<boolean> {
  console.log(plan.join('\n'))
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  try {
    return /^y(es)?$/i.test((await rl.question('Proceed? [y/N] ')).trim())
  } finally {
    rl.close()
  }
}

export interface FailoverCommand {
  inv: LoadedInventory
  pair: Pair
  opts: FailoverOptions
  json: boolean
}

/** Every input error is thrown here, before the lock and before any node is asked: exit 2 means nothing was touched. */
export function failoverCommand(op: Operation): FailoverCommand {
  // The parser takes what --help lists, no more; failover is told why --inflight is not its option.
  if (op !== 'failback' && scriptArgv().some((a) => a === '--inflight' || a.startsWith('--inflight=')))
    throw new InputError('--inflight is for failback: a failover never syncs back')
  const args = parseArgs({
    string: ['inventory', 'pair', 'to', ...(op === 'failback' ? ['inflight'] : [])],
    boolean: ['dry-run', 'force', 'resolve', 'yes', 'json', 'break-lock'],
    alias: { y: 'yes' },
  })
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  if (pairs.length > 1) throw new InputError(`${inv.file} has ${pairs.length} pairs: choose one with --pair (${pairs.map((p) => p.name).join(', ')})`)
  if (args.to !== undefined) findNode(pairs[0], String(args.to))
  const inflight = args.inflight === undefined ? undefined : (String(args.inflight) as InflightMode)
  if (inflight !== undefined && (op !== 'failback' || !INFLIGHT_MODES.includes(inflight))) {
    throw new InputError(
      op === 'failback'
        ? `--inflight must be recover or discard (got ${JSON.stringify(args.inflight)})`
        : '--inflight is for failback: a failover never syncs back',
    )
  }
  const dryRun = !!args['dry-run']
  if (!dryRun && !args.yes && !process.stdin.isTTY)
    throw new InputError(`${op} changes production state: pass --yes to run without a terminal (or --dry-run to see the plan)`)
  const json = !!args.json
  const opts: FailoverOptions = {
    operation: op,
    to: args.to,
    inflight,
    dryRun,
    force: !!args.force,
    resolve: !!args.resolve,
    breakLock: !!args['break-lock'],
    confirm: !dryRun && !args.yes ? askOnTerminal : undefined,
    onStep: json ? undefined : (s) => console.log(formatStep(s)),
  }
  return { inv, pair: pairs[0], opts, json }
}
