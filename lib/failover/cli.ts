// The shared body of playbooks/failover.ts and playbooks/failback.ts.
import { createInterface } from 'node:readline/promises'
import { inventoryFrom, parseArgs, scriptArgv } from '../cli.ts'
import { playbookCommand } from '../hint.ts'
import { EXIT, InputError } from '../errors.ts'
import { INFLIGHT_MODES, type InflightMode } from '../sync/follow/recover.ts'
import { findNode, findPair } from '../inventory/load.ts'
import { SshPool } from '../ssh.ts'
import { runFailover, type FailoverOptions, type FailoverResult, type StepResult } from './run.ts'
import type { Operation, Plan } from './plan.ts'

export const usage = (op: Operation) => `usage: npx zx playbooks/${op}.ts [--inventory FILE] [--pair NAME] [--to NODE] [--dry-run] [--force] [--resolve] [--yes|-y] [--break-lock] [--json]${op === 'failback' ? ' [--inflight recover|discard]' : ''}
  ${op === 'failover' ? 'Moves the service and its floating IPs to another node (default: the other node of a two-node pair).' : "Returns the service to the inventory's preferred primary, after bringing its data up to date."}
  Converges from any state: every floating IP on the target alone, every singleton only there, its services
  answering, the records naming it. Already so: nothing is done (and the dry run says so).
  --force      proceed past a stale target or an unfenceable node (the risk is printed first)
  --resolve    with --to: the records disagree with what runs and you decided --to is really active
${op === 'failback' ? `  --inflight   files the target changed before a takeover that never reached the active node (status lists them):
               recover ships the target's versions to the active node first (the copies they replace are kept),
               discard lets the active node's versions overwrite them; without it such a failback refuses
` : ''}  exit 0 done (or nothing to do), 1 failed (the pair stays locked; re-run to finish), 2 bad input, 3 refused for safety`

export function formatStep(s: StepResult): string {
  return `${!s.ok ? 'FAIL' : s.warning ? 'WARN' : 'ok  '} ${s.name.padEnd(15)} ${String(s.ms).padStart(6)} ms  ${s.detail}`
}

export function formatResult(r: FailoverResult): string {
  const warn = r.warnings.map((w) => `warning: ${w}`)
  if (r.dryRun && r.noop) return [`dry run: nothing to do: ${r.plan[0]?.replace(/^.*?: /, '') ?? ''}`, ...warn].join('\n')
  if (r.dryRun) return ['dry run: nothing was changed. The plan:', ...r.plan.map((l) => `  ${l}`)].join('\n')
  if (r.noop) return [`${r.operation}: nothing to do: ${r.active} is already active (epoch ${r.epoch}) and serving`, ...warn].join('\n')
  const head = r.ok
    ? `${r.operation} done: ${r.active} is active (epoch ${r.epoch})${r.resumed ? ', resumed an interrupted run' : ''}; RTO ${r.rtoMs ?? '-'} ms, total ${r.totalMs} ms`
    : `${r.operation} FAILED after ${r.totalMs} ms: ${r.error}\nrun \`${playbookCommand('status', ['--pair', r.pair])}\` to see the pair; re-running ${r.operation} finishes or safely redoes the job (README: failure states)`
  return [head, ...warn].join('\n')
}

async function askOnTerminal(plan: string[]): Promise<boolean> {
  console.log(plan.join('\n'))
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  try {
    return /^y(es)?$/i.test((await rl.question('Proceed? [y/N] ')).trim())
  } finally {
    rl.close()
  }
}

export async function failoverMain(op: Operation, extra: { beforeMutate?: (inv: ReturnType<typeof inventoryFrom>, pool: SshPool, plan: Plan, force: boolean) => Promise<string> } = {}): Promise<number> {
  // The parser takes what --help lists, no more; failover is told why --inflight is not its option.
  if (op !== 'failback' && scriptArgv().some((a) => a === '--inflight' || a.startsWith('--inflight='))) throw new InputError('--inflight is for failback: a failover never syncs back')
  const args = parseArgs({ string: ['inventory', 'pair', 'to', ...(op === 'failback' ? ['inflight'] : [])], boolean: ['dry-run', 'force', 'resolve', 'yes', 'json', 'break-lock'], alias: { y: 'yes' } })
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  if (pairs.length > 1) throw new InputError(`${inv.file} has ${pairs.length} pairs: choose one with --pair (${pairs.map((p) => p.name).join(', ')})`)
  // Before the lock and before any node is asked: exit 2 means nothing was touched.
  if (args.to !== undefined) findNode(pairs[0], String(args.to))
  const inflight = args.inflight === undefined ? undefined : String(args.inflight) as InflightMode
  if (inflight !== undefined && (op !== 'failback' || !INFLIGHT_MODES.includes(inflight))) {
    throw new InputError(op === 'failback' ? `--inflight must be recover or discard (got ${JSON.stringify(args.inflight)})` : '--inflight is for failback: a failover never syncs back')
  }
  const dryRun = !!args['dry-run']
  if (!dryRun && !args.yes && !process.stdin.isTTY) throw new InputError(`${op} changes production state: pass --yes to run without a terminal (or --dry-run to see the plan)`)
  const pool = new SshPool(inv)
  const opts: FailoverOptions = {
    operation: op, to: args.to, inflight, dryRun, force: !!args.force, resolve: !!args.resolve, breakLock: !!args['break-lock'],
    confirm: !dryRun && !args.yes ? askOnTerminal : undefined,
    onStep: args.json ? undefined : (s) => console.log(formatStep(s)),
    beforeMutate: extra.beforeMutate ? (plan) => extra.beforeMutate!(inv, pool, plan, !!args.force) : undefined,
  }
  try {
    const r = await runFailover(inv, pool, pairs[0], opts)
    if (args.json) {
      console.log(JSON.stringify({ pair: r.pair, operation: r.operation, from: r.from, to: r.to, steps: r.steps.map(({ name, ok, ms, detail }) => ({ name, ok, ms, detail })), rtoMs: r.rtoMs, totalMs: r.totalMs, active: r.active, epoch: r.epoch, ok: r.ok, noop: r.noop, resumed: r.resumed, dryRun: r.dryRun, warnings: r.warnings, ...(r.dryRun ? { plan: r.plan } : {}), ...(r.error ? { error: r.error } : {}) }, null, 2))
    } else {
      console.log(formatResult(r))
    }
    return r.ok ? EXIT.ok : EXIT.failed
  } finally {
    pool.close()
  }
}
