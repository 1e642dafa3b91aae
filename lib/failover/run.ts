// Executing a switchover: one function per step, run in order by runFailover. Every step is
// idempotent (drivers and service commands branch on what is already true) and the step list
// is journalled on the nodes. A run that fails after its first change keeps its lock and
// journal, so no sync starts on a half-switched pair and the next run resumes or converges.
import type { LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { HapairError, RefusedError, RemoteError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { observe, type Observation } from '../observe.ts'
import { acquireLock, stopSyncs, type HeldLock } from '../lock.ts'
import { writeNodeState } from '../state.ts'
import { runningServices, startServices } from '../services.ts'
import { audit } from '../audit.ts'
import { behind } from '../freshness.ts'
import { serviceChecksUntil } from '../checks/service-probe.ts'
import { describePlan, makePlan, type Operation, type Plan } from './plan.ts'
import type { InflightMode } from '../sync/follow/recover.ts'
import { pgAfterStop, pgPromoteTarget, pgRejoinStep } from './postgres-step.ts'
import { pgService } from '../postgres/config.ts'

export interface StepResult {
  name: string
  ok: boolean
  ms: number
  detail: string
  warning?: boolean
}

export interface FailoverResult {
  pair: string
  operation: Operation
  from: string
  to: string
  steps: StepResult[]
  rtoMs: number | null
  totalMs: number
  active: string
  epoch: number
  ok: boolean
  noop: boolean
  resumed: boolean
  dryRun: boolean
  plan: string[]
  warnings: string[]
  error?: string
}

export interface FailoverOptions {
  operation: Operation
  to?: string
  dryRun?: boolean
  force?: boolean
  resolve?: boolean
  breakLock?: boolean
  postCheckTimeoutMs?: number
  /** PlanOptions.seenEpoch: the newest epoch the caller saw, on nodes that may be gone now. */
  seenEpoch?: number
  /** Asked with the plan before anything changes; false refuses. */
  confirm?: (plan: string[]) => Promise<boolean>
  /** One line per finished step, for a person. */
  onStep?: (s: StepResult) => void
  /** Failback: which versions win for paths the target changed and never shipped before a takeover. */
  inflight?: InflightMode
  /** Runs just before the mutating steps start; lets a caller (failback) sync first. */
  beforeMutate?: (plan: Plan) => Promise<string>
}

/**
 * Called with each step's name once it is done and journaled. Production installs none; the crash
 * tests preload test/helpers/crash-after.ts, which SIGKILLs the process at a chosen step.
 */
export const afterStepHooks: ((step: string) => void)[] = []

class StepFailed extends HapairError {}

export const FAILOVER_STEPS = ['lock', 'preflight', 'sync-back', 'stop-syncs', 'fence', 'move-ip', 'start-services', 'post-check', 'record', 'rejoin']

/** What one run carries from step to step. */
interface Run {
  inv: LoadedInventory
  pool: SshPool
  pair: Pair
  opts: FailoverOptions
  started: number
  steps: StepResult[]
  warnings: string[]
  lock?: HeldLock
  plan?: Plan
  rtoStart?: number
  rtoEnd?: number
  /** A change was made: from here on a failure keeps the lock and journal. */
  changed: boolean
}

function result(r: Run, ok: boolean, error?: string): FailoverResult {
  const p = r.plan
  return {
    pair: r.pair.name,
    operation: r.opts.operation,
    from: p?.from.name ?? '',
    to: p?.to.name ?? '',
    steps: [...r.steps].sort((a, b) => FAILOVER_STEPS.indexOf(a.name) - FAILOVER_STEPS.indexOf(b.name)),
    rtoMs: r.rtoStart !== undefined && r.rtoEnd !== undefined ? r.rtoEnd - r.rtoStart : null,
    totalMs: Date.now() - r.started,
    active: p?.noop ? p.to.name : ok && p ? p.to.name : (p?.obs.view.active ?? ''),
    epoch: p?.noop ? p.obs.view.epoch : (p?.epoch ?? 0),
    ok,
    noop: !!p?.noop,
    resumed: !!p?.resumed,
    dryRun: !!r.opts.dryRun,
    plan: p ? describePlan(p) : [],
    warnings: [...r.warnings],
    error,
  }
}

/** Runs one step: times it, reports it, journals it, and turns a failure into StepFailed. */
async function step(r: Run, name: string, fn: () => Promise<string | { detail: string; warning: boolean }>, opts: { mutating?: boolean; rto?: boolean } = {}) {
  const t0 = Date.now()
  if (opts.rto && r.rtoStart === undefined) r.rtoStart = t0
  if (opts.mutating) r.changed = true
  let out: string | { detail: string; warning: boolean }
  try {
    out = await fn()
  } catch (e) {
    const s = { name, ok: false, ms: Date.now() - t0, detail: (e as Error).message }
    r.steps.push(s)
    r.opts.onStep?.(s)
    if (e instanceof RefusedError || e instanceof StepFailed) throw e
    throw new StepFailed(`step ${name} failed: ${(e as Error).message}`, { cause: e })
  }
  const s: StepResult = typeof out === 'string' ? { name, ok: true, ms: Date.now() - t0, detail: out } : { name, ok: true, ms: Date.now() - t0, ...out }
  if (s.warning) r.warnings.push(s.detail)
  r.steps.push(s)
  r.opts.onStep?.(s)
  const p = r.plan
  if (r.lock && p && opts.mutating)
    await r.lock.journal({ operation: r.opts.operation, from: p.from.name, to: p.to.name, epoch: p.epoch, steps: r.steps.map((x) => x.name) })
  for (const h of afterStepHooks) h(name)
}

async function lockStep(r: Run): Promise<string> {
  r.lock = await acquireLock(r.pool, r.pair, r.opts.operation, { breakLock: r.opts.breakLock })
  const l = r.lock
  const missing = Object.keys(l.unreachable)
  return (
    `held on ${l.nodes.join(', ')}${missing.length ? ` (unreachable: ${missing.join(', ')})` : ''}` +
    `${l.resumed ? ` (found an interrupted ${l.resumed.operation} to ${l.resumed.to}, epoch ${l.resumed.epoch})` : ''}` +
    `${l.badJournal ? ` (ignored a bad journal: ${l.badJournal})` : ''}`
  )
}

/** Observes the pair and decides; refuses (nothing changed) when it is not safe. */
async function preflightStep(r: Run, obs: Observation): Promise<Plan> {
  const t0 = Date.now()
  const p = await makePlan(r.inv, r.pool, r.pair, obs, r.opts.operation, {
    to: r.opts.to,
    resolve: r.opts.resolve,
    journal: r.lock?.resumed,
    inflight: r.opts.inflight,
    seenEpoch: r.opts.seenEpoch,
    behind: async (t) => (await behind(r.pool, r.pair, obs.view.active, [t]))[t] ?? [],
  })
  r.plan = p
  r.warnings.push(...p.warnings)
  if (p.noop) {
    r.steps.push({ name: 'preflight', ok: true, ms: Date.now() - t0, detail: p.noopDetail! })
    return p
  }
  const refused = p.blockers.length > 0 || (p.problems.length > 0 && !r.opts.force)
  const all = [...p.blockers, ...p.problems]
  const detail = all.length
    ? all.join('; ') + (!p.blockers.length && r.opts.force ? ' (forced past)' : '')
    : `${p.to.name} ready${p.resumed ? ' (resuming the interrupted run)' : ''}`
  r.steps.push({ name: 'preflight', ok: !refused, ms: Date.now() - t0, detail })
  r.opts.onStep?.(r.steps.at(-1)!)
  if (refused) throw new RefusedError(`refused: ${all.join('; ')}${p.risks.length && !p.blockers.length ? `\n${p.risks.join('\n')}` : ''}`)
  if (r.opts.force && p.problems.length) r.warnings.push(...p.risks.map((x) => `forced: ${x}`))
  return p
}

/** Stops what the other nodes serve; powers off the ones that cannot be asked. */
async function fenceStep(r: Run, p: Plan): Promise<string | { detail: string; warning: boolean }> {
  const out: string[] = []
  const byName = new Map(p.pair.services?.map((s) => [s.name, s]) ?? [])
  await Promise.all(
    p.stop.map(async ({ node, services }) => {
      const s = r.pool.session(p.pair, node)
      try {
        await Promise.all(
          services.map(async (name) => {
            await s.run({ script: byName.get(name)!.stop })
            await pgAfterStop(r.pool, p, node, byName.get(name)!)
          }),
        )
        out.push(`stopped ${services.join(', ')} on ${node.name}`)
      } catch (e) {
        // Lost it mid-way: it can only be made safe by the fencing driver now.
        if (!(e instanceof RemoteError && (e.unreachable || e.timedOut)) || !p.fence) throw e
        p.powerOff.push(node)
        p.release = p.release.filter((x) => x.node.name !== node.name)
      }
    }),
  )
  for (const n of p.powerOff) {
    const res = await p.fence!.stop(n)
    const state = await p.fence!.status(n)
    if (state !== 'off') throw new StepFailed(`${n.name} still ${state} after fencing`)
    out.push(`${res.detail} (${p.fence!.kind})`)
  }
  for (const n of p.off) out.push(`${n.name} already powered off (${p.fence!.kind})`)
  if (p.unfenced.length) {
    return { detail: [...out, `NOT FENCED (--force): ${p.unfenced.map((n) => n.name).join(', ')} unreachable and may still serve`].join('; '), warning: true }
  }
  return out.join('; ') || 'nothing runs elsewhere'
}

/** Every address off every other node, then on the target, announced even if it was there. */
async function moveIpStep(r: Run, p: Plan): Promise<string> {
  const out: string[] = []
  await Promise.all(
    p.release.map(async ({ driver, node }) => {
      const res = await driver.stop(node)
      if (res.changed) out.push(res.detail)
    }),
  )
  for (const d of p.ips) out.push((await d.start(p.to)).detail)
  return out.join('; ') || 'no floating IPs'
}

async function startStep(r: Run, p: Plan): Promise<string> {
  const s = r.pool.session(p.pair, p.to)
  // A database standby is promoted (after replaying the old primary's last WAL) before any start command.
  const promoted = await pgPromoteTarget(r.pool, p)
  const started = await startServices(s, p.pair)
  // Only nodes still up can run anything: the powered-off ones were fenced or found off.
  const others = p.stop
    .map((x) => x.node)
    .concat(p.pair.nodes.filter((n) => n.name !== p.to.name && !(n.name in p.obs.view.unreachable) && !p.stop.some((x) => x.node.name === n.name)))
    .filter((n) => !p.powerOff.some((x) => x.name === n.name))
  const singles = (p.pair.services ?? []).filter((x) => x.singleton)
  const [running, elsewhere] = await Promise.all([
    runningServices(s, p.pair),
    singles.length ? Promise.all(others.map(async (n) => runningServices(r.pool.session(p.pair, n), p.pair))) : Promise.resolve([]),
  ])
  const down = Object.entries(running)
    .filter(([, up]) => !up)
    .map(([n]) => n)
  if (down.length) throw new StepFailed(`${down.join(', ')} not running on ${p.to.name} after its start command`)
  const twice = singles.filter((x) => elsewhere.some((st) => st[x.name])).map((x) => x.name)
  if (twice.length) throw new StepFailed(`singleton ${twice.join(', ')} still running on another node`)
  return `started ${started.join(', ') || 'nothing'} on ${p.to.name}${promoted ? `; ${promoted}` : ''}`
}

async function recordStep(r: Run, p: Plan): Promise<string> {
  const rec = { epoch: p.epoch, active: p.to.name, since: new Date().toISOString(), by: r.lock?.owner.owner ?? '', from: p.from.name }
  await writeNodeState(r.pool.session(p.pair, p.to), p.pair, 'active', rec)
  const others = p.pair.nodes.filter((n) => n.name !== p.to.name && !(n.name in p.obs.view.unreachable) && !p.powerOff.includes(n))
  const done = [p.to.name]
  const missed: string[] = []
  await Promise.all(
    others.map(async (n) => {
      try {
        await writeNodeState(r.pool.session(p.pair, n), p.pair, 'active', rec)
        done.push(n.name)
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        missed.push(`${n.name} (${e.message})`)
      }
    }),
  )
  return `epoch ${p.epoch}: ${p.to.name} active (recorded on ${done.join(', ')}${missed.length ? `; not on ${missed.join(', ')}` : ''})`
}

function auditRun(r: Run, res: FailoverResult): void {
  const a = audit({
    operation: res.operation,
    pair: res.pair,
    from: res.from,
    to: res.to,
    epoch: res.epoch,
    ok: res.ok,
    noop: res.noop,
    resumed: res.resumed,
    rtoMs: res.rtoMs,
    totalMs: res.totalMs,
    warnings: res.warnings,
    ...(res.error ? { error: res.error } : {}),
    steps: res.steps.map(({ name, ms, ok }) => ({ name, ms, ok })),
  })
  if (a.error) res.warnings.push(`audit log not written (${a.file}): ${a.error}`)
}

export async function runFailover(inv: LoadedInventory, pool: SshPool, pair: Pair, opts: FailoverOptions): Promise<FailoverResult> {
  const r: Run = { inv, pool, pair, opts, started: Date.now(), steps: [], warnings: [], changed: false }
  try {
    if (!opts.dryRun) await step(r, 'lock', () => lockStep(r))
    const obs = await observe(inv, pool, pair)
    if (Object.keys(obs.view.unreachable).length === pair.nodes.length)
      throw new RefusedError(`no node of pair ${pair.name} is reachable: ${Object.values(obs.view.unreachable).join('; ')}`)
    const p = await preflightStep(r, obs)
    if (p.noop) {
      const res = result(r, true)
      if (!opts.dryRun) auditRun(r, res)
      return res
    }
    if (opts.dryRun) return result(r, true)
    if (opts.confirm && !(await opts.confirm(describePlan(p)))) throw new RefusedError('not confirmed: nothing changed')
    // Failback's reverse sync: data moves to the standby, the service does not, so no RTO yet.
    if (opts.beforeMutate) await step(r, 'sync-back', () => opts.beforeMutate!(p))
    await step(
      r,
      'stop-syncs',
      () =>
        stopSyncs(
          pool,
          pair,
          pair.nodes.filter((n) => !(n.name in obs.view.unreachable)),
        ),
      { mutating: true },
    )
    await step(r, 'fence', () => fenceStep(r, p), { mutating: true, rto: true })
    // The other nodes serve nothing any more, so the target's services can start while its
    // address arrives; a singleton is already stopped everywhere else.
    await settleAll([
      step(r, 'move-ip', () => moveIpStep(r, p), { mutating: true, rto: true }),
      step(r, 'start-services', () => startStep(r, p), { mutating: true, rto: true }),
    ])
    await step(
      r,
      'post-check',
      async () => {
        const detail = await postCheck(r, p)
        r.rtoEnd = Date.now()
        return detail
      },
      { mutating: true },
    )
    await step(r, 'record', () => recordStep(r, p), { mutating: true })
    // Under the lock still: the old primary becomes a standby of the new one (a warning if it cannot).
    if (pgService(pair)) await step(r, 'rejoin', () => pgRejoinStep(pool, p))
    await r.lock?.release()
    r.lock = undefined
    const res = result(r, true)
    auditRun(r, res)
    return res
  } catch (e) {
    if (!(e instanceof StepFailed)) {
      if (r.plan && !opts.dryRun && r.changed) auditRun(r, result(r, false, (e as Error).message))
      throw e
    }
    const res = result(r, false, e.message)
    if (r.changed) res.warnings.push(`the pair stays locked with its journal: re-run ${opts.operation} to finish or converge`)
    if (!opts.dryRun && r.changed) auditRun(r, res)
    return res
  } finally {
    // Nothing changed: the lock is released. A change was made (by this run or the interrupted
    // one it found) and the run failed: the lock and journal stay (renewal stops), so no sync
    // starts and the next run resumes or converges.
    if (r.lock) await (r.changed || r.lock.resumed ? r.lock.keep() : r.lock.release())
  }
}

/** Like Promise.all, but waits for every step to finish before failing: no step runs on unlocked. */
async function settleAll(ps: Promise<unknown>[]): Promise<void> {
  const rs = await Promise.allSettled(ps)
  const bad = rs.find((x): x is PromiseRejectedResult => x.status === 'rejected')
  if (bad) throw bad.reason
}

/** Every declared check answers through every floating IP as the new node (retried until the deadline). */
async function postCheck(r: Run, p: Plan): Promise<string> {
  const addresses = p.ips.length ? p.ips.map((d) => d.fip.address) : [p.to.address]
  const res = await serviceChecksUntil(r.pool, p.pair, { node: p.to, addresses, deadlineMs: r.opts.postCheckTimeoutMs ?? 10000 })
  if (!res.ok) throw new StepFailed(`not serving through ${addresses.join(', ')} after ${r.opts.postCheckTimeoutMs ?? 10000} ms: ${res.failures.join('; ')}`)
  return `${res.count} check(s) answer as ${p.to.name} through ${addresses.join(', ')}`
}
