// Deciding a switchover before touching anything: who is active, where to go, whether it is
// safe, and the exact steps a dry run prints.
import type { LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { InputError, RemoteError } from '../errors.ts'
import { fenceDriver, ipDriver } from '../drivers/index.ts'
import type { FenceDriver, IpDriver } from '../drivers/types.ts'
import type { SshPool } from '../ssh.ts'
import type { ActiveView } from '../active.ts'
import type { Journal } from '../lock.ts'
import { probe } from '../probe.ts'
import { startable, runningServices } from '../services.ts'

export type Operation = 'failover' | 'failback'

export interface Plan {
  pair: Pair
  operation: Operation
  from: Node
  to: Node
  /** Can the old active node be reached (then it is stopped over SSH), or must it be fenced? */
  fromReachable: boolean
  ips: IpDriver[]
  fence?: FenceDriver
  epoch: number
  /** Preconditions that failed (refusal unless --force). */
  problems: string[]
  /** What --force would risk, said before it is taken. */
  risks: string[]
  resumed: boolean
  /** Nothing to do: the target is already active and serving. */
  noop: boolean
}

export function chooseTarget(pair: Pair, op: Operation, active: string, to: string | undefined, resumed?: Journal): string {
  if (resumed && (!to || to === resumed.to)) return resumed.to
  if (resumed && to && to !== resumed.to) {
    throw new InputError(`an interrupted ${resumed.operation} from ${resumed.from} to ${resumed.to} is unfinished; re-run without --to (or --to ${resumed.to}) to finish it`)
  }
  if (to) {
    if (!pair.nodes.some((n) => n.name === to)) throw new InputError(`--to ${to}: pair ${pair.name} has no such node (nodes: ${pair.nodes.map((n) => n.name).join(', ')})`)
    return to
  }
  if (op === 'failback') return pair.primary
  const others = pair.nodes.filter((n) => n.name !== active)
  if (others.length === 1) return others[0].name
  throw new InputError(`pair ${pair.name} has ${others.length} nodes besides the active ${active}: choose one with --to (${others.map((n) => n.name).join(', ')})`)
}

/** Preconditions on the target; each failure is one line saying what is wrong. */
async function preflight(pool: SshPool, pair: Pair, to: Node, view: ActiveView, op: Operation): Promise<string[]> {
  const problems: string[] = []
  const s = pool.session(pair, to)
  try {
    await s.ping()
  } catch (e) {
    return [`target ${to.name} is not reachable: ${(e as Error).message}`]
  }
  try {
    problems.push(...await startable(s, pair))
    // Healthy: what the target already serves (non-singletons) answers on its own address.
    const running = await runningServices(s, pair)
    for (const svc of pair.services ?? []) {
      if (svc.singleton || !running[svc.name]) continue
      for (const c of svc.checks.filter((c) => c.protocol !== 'command')) {
        const r = await probe(to.address, c, to.name)
        if (!r.ok) problems.push(`target ${to.name} unhealthy: ${svc.name}: ${r.detail}`)
      }
    }
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e
    problems.push(`target ${to.name}: ${e.message}`)
  }
  // Data fresh enough: a degraded mark listing the target means it misses held changes. A
  // failback delivers them itself (its reverse sync), and refuses if that fails.
  // Only the active node's mark counts: sync writes it there, and a former active node's copy is history.
  if (op === 'failover') for (const [node, st] of Object.entries(view.states).filter(([n]) => n === view.active)) {
    const pending = st.degraded?.pending?.[to.name]
    if (pending?.length) problems.push(`target ${to.name} is behind: sync of ${pending.join(', ')} pending since ${st.degraded!.since} (recorded on ${node}); run sync first, or --force loses those changes`)
  }
  return problems
}

export async function makePlan(inv: LoadedInventory, pool: SshPool, pair: Pair, view: ActiveView, op: Operation, to: string | undefined, resumed?: Journal): Promise<Plan> {
  // An interrupted run is finished if its epoch was never recorded, or was recorded just before
  // the crash (then there is nothing left to do). An older journal is history, not a plan.
  const resumeValid = resumed && (resumed.epoch > view.epoch || (resumed.epoch === view.epoch && view.active === resumed.to)) ? resumed : undefined
  const target = chooseTarget(pair, op, view.active, to, resumeValid)
  const fromName = resumeValid?.from ?? view.active
  const from = pair.nodes.find((n) => n.name === fromName)!
  const toNode = pair.nodes.find((n) => n.name === target)!
  const ctx = { inv, pair, pool }
  const ips = (pair.floatingIps ?? []).map((f) => ipDriver(f, ctx))
  const fence = fenceDriver(ctx)
  const plan: Plan = {
    pair, operation: op, from, to: toNode, fromReachable: !view.unreachable[fromName], ips, fence,
    epoch: resumeValid?.epoch ?? view.epoch + 1, problems: [], risks: [], resumed: !!resumeValid, noop: false,
  }
  if (from.name === toNode.name) {
    plan.noop = true
    return plan
  }
  plan.problems.push(...await preflight(pool, pair, toNode, view, op))
  if (!plan.fromReachable) {
    if (!fence) {
      plan.problems.push(`cannot reach ${from.name} and pair ${pair.name} has no fencing driver, so it cannot be stopped`)
      plan.risks.push(`--force takes over while ${from.name} may still hold ${pair.floatingIps?.map((f) => f.address).join(', ') || 'its addresses'} and run ${(pair.services ?? []).filter((s) => s.singleton).map((s) => s.name).join(', ') || 'its services'}: two live writers until it is stopped by hand`)
    }
  }
  return plan
}

/** The exact steps, for --dry-run and the confirmation prompt. */
export function describePlan(p: Plan): string[] {
  const lines = [`${p.operation} of pair ${p.pair.name}: ${p.from.name} -> ${p.to.name} (epoch ${p.epoch})${p.resumed ? ' [finishing an interrupted run]' : ''}`]
  lines.push(`1. lock pair ${p.pair.name} on every reachable node`)
  lines.push(`2. preflight ${p.to.name}: reachable, services startable, healthy, not behind`)
  if (p.operation === 'failback') lines.push(`2b. sync every item from ${p.from.name} to ${p.to.name}; refuse if any did not arrive`)
  if (p.fromReachable) {
    for (const s of p.pair.services ?? []) lines.push(`3. fence: ${p.from.name}: ${s.stop}`)
  } else if (p.fence) {
    lines.push(...p.fence.describe('stop', p.from).map((l) => `3. fence (unreachable): ${l}`))
  } else {
    lines.push(`3. fence: ${p.from.name} unreachable and no fencing driver: REFUSED unless --force`)
  }
  for (const d of p.ips) {
    if (p.fromReachable) lines.push(...d.describe('stop', p.from).map((l) => `4. move ${d.fip.address}: ${l}`))
    lines.push(...d.describe('start', p.to).map((l) => `4. move ${d.fip.address}: ${l}`))
  }
  for (const s of p.pair.services ?? []) lines.push(`5. start: ${p.to.name}: ${s.start}`)
  const where = p.ips.length ? p.ips.map((d) => d.fip.address).join(', ') : p.to.address
  for (const s of p.pair.services ?? []) for (const c of s.checks) {
    lines.push(`6. post-check ${s.name}: ${c.protocol === 'command' ? `${p.to.name}: ${c.command}` : `${c.protocol} ${where}:${c.port} answers as ${p.to.name}`}`)
  }
  lines.push(`7. record ${p.to.name} active at epoch ${p.epoch} on every reachable node; audit log`)
  return lines
}
