// Executing a switchover. Every step is idempotent (drivers and service commands branch on
// what is already true), the step list is journalled on the nodes, and a re-run after a crash
// finishes the same switchover instead of starting a different one.
import type { LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { HapairError, RefusedError, RemoteError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { activeView } from '../active.ts'
import { acquireLock, type HeldLock } from '../lock.ts'
import { writeNodeState } from '../state.ts'
import { probe } from '../probe.ts'
import { runningServices, startServices, stopServices } from '../services.ts'
import { audit } from '../audit.ts'
import { describePlan, makePlan, type Operation, type Plan } from './plan.ts'

export interface StepResult { name: string; ok: boolean; ms: number; detail: string }

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
  dryRun: boolean
  plan: string[]
  error?: string
}

export interface FailoverOptions {
  operation: Operation
  to?: string
  dryRun?: boolean
  force?: boolean
  breakLock?: boolean
  postCheckTimeoutMs?: number
  /** Asked with the plan before anything changes; false refuses. */
  confirm?: (plan: string[]) => Promise<boolean>
  /** One line per finished step, for a person. */
  onStep?: (s: StepResult) => void
  /** Runs just before the mutating steps start; lets a caller (failback) sync first. */
  beforeMutate?: (plan: Plan) => Promise<string>
}

/** Test hook: SIGKILL ourselves right after the named step, to prove a re-run recovers. */
const crashAfter = process.env.HAPAIR_CRASH_AFTER_STEP

class StepFailed extends HapairError {}

export const STEPS = ['lock', 'preflight', 'sync-back', 'fence', 'move-ip', 'start-services', 'post-check', 'record']

export async function runFailover(inv: LoadedInventory, pool: SshPool, pair: Pair, opts: FailoverOptions): Promise<FailoverResult> {
  const started = Date.now()
  const steps: StepResult[] = []
  let rtoStart: number | undefined
  let rtoEnd: number | undefined
  let lock: HeldLock | undefined
  let plan: Plan | undefined
  const result = (ok: boolean, error?: string): FailoverResult => ({
    pair: pair.name, operation: opts.operation, from: plan?.from.name ?? '', to: plan?.to.name ?? '',
    steps: [...steps].sort((a, b) => STEPS.indexOf(a.name) - STEPS.indexOf(b.name)),
    rtoMs: rtoStart !== undefined && rtoEnd !== undefined ? rtoEnd - rtoStart : null, totalMs: Date.now() - started,
    active: ok ? plan!.to.name : plan?.from.name ?? '', epoch: plan?.epoch ?? 0, ok, dryRun: !!opts.dryRun,
    plan: plan ? describePlan(plan) : [], error,
  })
  const step = async (name: string, fn: () => Promise<string>, mutating = true) => {
    const t0 = Date.now()
    if (mutating && rtoStart === undefined) rtoStart = t0
    let detail: string
    try {
      detail = await fn()
    } catch (e) {
      const s = { name, ok: false, ms: Date.now() - t0, detail: (e as Error).message }
      steps.push(s)
      opts.onStep?.(s)
      if (e instanceof RefusedError || e instanceof StepFailed) throw e
      throw new StepFailed(`step ${name} failed: ${(e as Error).message}`, { cause: e })
    }
    const s = { name, ok: true, ms: Date.now() - t0, detail }
    steps.push(s)
    opts.onStep?.(s)
    if (lock && plan && mutating) await lock.journal({ operation: opts.operation, from: plan.from.name, to: plan.to.name, epoch: plan.epoch, steps: steps.map((x) => x.name) })
    if (crashAfter === name) process.kill(process.pid, 'SIGKILL')
  }

  try {
    // 1. Lock on every node we can reach; the unreachable one is the one we may have to fence.
    if (!opts.dryRun) await step('lock', async () => {
      lock = await acquireLock(pool, pair, opts.operation, { breakLock: opts.breakLock })
      const missing = Object.keys(lock.unreachable)
      return `held on ${lock.nodes.join(', ')}${missing.length ? ` (unreachable: ${missing.join(', ')})` : ''}${lock.resumed ? ` (found an interrupted ${lock.resumed.operation} to ${lock.resumed.to})` : ''}`
    }, false)

    // 2. Decide and preflight. Nothing has changed yet.
    const view = await activeView(pool, pair)
    if (Object.keys(view.unreachable).length === pair.nodes.length) throw new RefusedError(`no node of pair ${pair.name} is reachable: ${Object.values(view.unreachable).join('; ')}`)
    const t0 = Date.now()
    plan = await makePlan(inv, pool, pair, view, opts.operation, opts.to, lock?.resumed)
    const p = plan
    if (p.noop) {
      steps.push({ name: 'preflight', ok: true, ms: Date.now() - t0, detail: `${p.to.name} is already active (epoch ${view.epoch}): nothing to do` })
      return result(true)
    }
    const refused = p.problems.length > 0 && !opts.force
    steps.push({ name: 'preflight', ok: !refused, ms: Date.now() - t0, detail: p.problems.length ? p.problems.join('; ') + (opts.force ? ' (forced past)' : '') : `${p.to.name} ready` })
    opts.onStep?.(steps.at(-1)!)
    if (refused) throw new RefusedError(`refused: ${p.problems.join('; ')}${p.risks.length ? `\n${p.risks.join('\n')}` : ''}`)
    if (opts.dryRun) return result(true)
    if (opts.confirm && !(await opts.confirm(describePlan(p)))) throw new RefusedError('not confirmed: nothing changed')
    // Failback's reverse sync: data moves to the standby, the service does not, so no RTO yet.
    if (opts.beforeMutate) await step('sync-back', () => opts.beforeMutate!(p), false)

    // 3. Fence the old active node: stop what it serves, or power it off if it cannot be asked.
    await step('fence', async () => {
      if (p.fromReachable) {
        try {
          const stopped = await stopServices(pool.session(pair, p.from), pair)
          return `stopped ${stopped.join(', ') || 'nothing'} on ${p.from.name}`
        } catch (e) {
          if (!(e instanceof RemoteError && (e.unreachable || e.timedOut)) || !p.fence) throw e
          p.fromReachable = false // lost it mid-way: fall through to the fencing driver
        }
      }
      if (p.fence) {
        const r = await p.fence.stop(p.from)
        const state = await p.fence.status(p.from)
        if (state !== 'off') throw new StepFailed(`${p.from.name} still ${state} after fencing`)
        return `${r.detail} (${p.fence.kind})`
      }
      return `${p.from.name} unreachable and not fenced (--force): it may still serve`
    })

    // 4 and 5 at once: the old node serves nothing any more, so the new node's services can
    // start while its address arrives; a singleton is already stopped on the old node.
    await settleAll([
      step('move-ip', async () => {
        const out: string[] = []
        for (const d of p.ips) {
          if (p.fromReachable) out.push((await d.stop(p.from)).detail)
          out.push((await d.start(p.to)).detail)
        }
        return out.join('; ') || 'no floating IPs'
      }),
      step('start-services', async () => {
        const started = await startServices(pool.session(pair, p.to), pair)
        if (p.fromReachable) {
          const still = await runningServices(pool.session(pair, p.from), pair)
          const twice = (pair.services ?? []).filter((s) => s.singleton && still[s.name])
          if (twice.length) throw new StepFailed(`singleton ${twice.map((s) => s.name).join(', ')} still running on ${p.from.name}`)
        }
        return `started ${started.join(', ') || 'nothing'} on ${p.to.name}`
      }),
    ])

    // 6. Prove it: every declared check answers through the floating IP, as the new node.
    await step('post-check', async () => {
      const detail = await postCheck(pool, p, opts.postCheckTimeoutMs ?? 10000)
      rtoEnd = Date.now()
      return detail
    })

    // 7. Record the new active node with a higher epoch, new node first.
    await step('record', async () => {
      const rec = { epoch: p.epoch, active: p.to.name, since: new Date().toISOString(), by: lock?.owner.owner ?? '', from: p.from.name }
      await writeNodeState(pool.session(pair, p.to), pair, 'active', rec)
      const others = pair.nodes.filter((n) => n.name !== p.to.name && (n.name !== p.from.name || p.fromReachable))
      const done = [p.to.name]
      await Promise.all(others.map(async (n) => {
        try { await writeNodeState(pool.session(pair, n), pair, 'active', rec); done.push(n.name) } catch (e) { if (!(e instanceof RemoteError)) throw e }
      }))
      return `epoch ${p.epoch}: ${p.to.name} active (recorded on ${done.join(', ')})`
    })
    const r = result(true)
    audit({ operation: opts.operation, pair: pair.name, from: r.from, to: r.to, epoch: r.epoch, ok: true, rtoMs: r.rtoMs, totalMs: r.totalMs, steps: steps.map(({ name, ms, ok }) => ({ name, ms, ok })) })
    return r
  } catch (e) {
    if (plan && !opts.dryRun && steps.some((s) => s.name === 'fence')) {
      audit({ operation: opts.operation, pair: pair.name, from: plan.from.name, to: plan.to.name, epoch: plan.epoch, ok: false, error: (e as Error).message, steps: steps.map(({ name, ms, ok }) => ({ name, ms, ok })) })
    }
    if (e instanceof StepFailed) return result(false, e.message)
    throw e
  } finally {
    await lock?.release()
  }
}

/** Like Promise.all, but waits for every step to finish before failing: no step runs on unlocked. */
async function settleAll(ps: Promise<unknown>[]): Promise<void> {
  const rs = await Promise.allSettled(ps)
  const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (bad) throw bad.reason
}

async function postCheck(pool: SshPool, p: Plan, timeoutMs: number): Promise<string> {
  const addresses = p.ips.length ? p.ips.map((d) => d.fip.address) : [p.to.address]
  const checks = (p.pair.services ?? []).flatMap((s) => s.checks.map((c) => ({ svc: s.name, c })))
  const deadline = Date.now() + timeoutMs
  let last: string[] = []
  // A connection opened while a client's ARP entry still names the old node is lost, and TCP
  // would retry it only after a second: short attempts first, growing up to the check's timeout.
  for (let attempt = 0; ; attempt++) {
    const limit = (c: { timeoutMs?: number }) => Math.min(c.timeoutMs ?? 2000, 100 * 2 ** attempt)
    last = []
    await Promise.all(checks.flatMap(({ svc, c }) => {
      if (c.protocol === 'command') {
        return [pool.session(p.pair, p.to).run({ script: c.command! }, { check: false }).then((r) => { if (r.code !== 0) last.push(`${svc}: ${c.command} exit ${r.code}`) })]
      }
      return addresses.map((a) => probe(a, { ...c, timeoutMs: limit(c) }, p.to.name).then((r) => { if (!r.ok) last.push(`${svc}: ${r.detail}`) }))
    }))
    if (last.length === 0) return `${checks.length} check(s) answer as ${p.to.name} through ${addresses.join(', ')}`
    if (Date.now() > deadline) throw new StepFailed(`not serving through ${addresses.join(', ')} after ${timeoutMs} ms: ${last.join('; ')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
