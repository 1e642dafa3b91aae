// Runs the selected checks for one pair: who is reachable and active is asked once; every
// check then reports every node (an unreachable one as failed, with why), and the run goes on.
import { observe } from '../observe.ts'
import { HapairError, RemoteError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import type { SshPool } from '../ssh.ts'
import { writeNodeState } from '../state.ts'
import type { Check, CheckContext, CheckResult } from './types.ts'
import { unreachableResult } from '../outcome.ts'
import type { StepProgress } from '../progress.ts'

export interface VerifyOptions {
  deep?: boolean
  listMax?: number
  /** Write the summary to each reachable node's state (status shows it); only for full runs. */
  record?: boolean
  now?: () => number
  /** Shown while it runs: one step per check, with what the check says it is doing. */
  progress?: StepProgress
}

/** A node the run could not get into, as a failed result; the advice comes from the error's flags. */
export async function verifyPair(inv: LoadedInventory, pair: Pair, pool: SshPool, checks: Check[], opts: VerifyOptions = {}): Promise<CheckResult[]> {
  // The same observed view as status, sync and failover: records checked against what runs.
  const obs = await observe(inv, pool, pair)
  const view = obs.view
  const ctx: CheckContext = {
    inv,
    pair,
    pool,
    problems: obs.problems,
    active: view.active,
    reachable: pair.nodes.filter((n) => !(n.name in view.unreachable)),
    unreachable: view.unreachable,
    unreachableErrors: view.errors ?? {},
    states: view.states,
    deep: opts.deep ?? false,
    listMax: opts.listMax ?? 5,
    now: opts.now ?? Date.now,
  }
  const results: CheckResult[] = []
  for (const check of checks.filter((c) => c.appliesTo?.(pair) ?? true)) {
    let got: CheckResult[]
    ctx.step = opts.progress?.step(`${pair.name} ${check.name}`)
    try {
      got = await check.run(ctx)
    } catch (e) {
      // One check breaking (an internal error, a driver refusing) must not hide the others' answers.
      const detail =
        e instanceof HapairError
          ? `error: ${e.message}`
          : `internal error (a bug in hapair, please report it): ${(e as Error)?.stack?.split('\n').slice(0, 2).join(' ') ?? e}`
      got = ctx.reachable.map((n) => ({ pair: pair.name, node: n.name, check: check.name, ok: false, detail, ms: 0 }))
    } finally {
      ctx.step?.done()
      ctx.step = undefined
    }
    for (const n of pair.nodes) {
      const mine = got.filter((r) => r.node === n.name)
      if (n.name in ctx.unreachable) results.push(unreachableResult(pair, n.name, check.name, ctx.unreachableErrors[n.name] ?? ctx.unreachable[n.name]))
      else results.push(...mine)
    }
  }
  if (opts.record) await recordSummary(ctx, results)
  return results
}

/** The verify summary on every reachable node, so `status` on any controller shows the last run. */
async function recordSummary(ctx: CheckContext, results: CheckResult[]): Promise<void> {
  const failed = results.filter((r) => !r.ok).map((r) => `${r.node}/${r.check}`)
  const value = { at: new Date(ctx.now()).toISOString(), ok: failed.length === 0, failed }
  await Promise.all(
    ctx.reachable.map(async (n) => {
      try {
        await writeNodeState(ctx.pool.session(ctx.pair, n), ctx.pair, 'verify', value)
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        // Already reported by the checks; a summary that cannot be written does not change the verdict.
      }
    }),
  )
}
