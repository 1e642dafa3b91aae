// Deciding a switchover before touching anything. The plan is computed from what is observed
// (lib/observe.ts), not from the records alone: which nodes must stop what, where each address
// must be released, what must start on the target. A dry run prints exactly this plan, and a
// real run executes it; when the observation already matches the goal the plan is a no-op.
import { stateDir, type LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { InputError, RemoteError } from '../errors.ts'
import { describeInflight, readInflight, type InflightRecord, type ReadInflight } from '../sync/follow/inflight.ts'
import type { InflightMode } from '../sync/follow/recover.ts'
import { fenceDriver } from '../drivers/index.ts'
import type { FenceDriver, IpDriver, PowerState } from '../drivers/types.ts'
import type { SshPool } from '../ssh.ts'
import type { Journal } from '../lock.ts'
import { reachable, runningOn, problemsMessage, type Observation } from '../observe.ts'
import { startable } from '../services.ts'
import { runServiceChecks } from '../checks/service-probe.ts'
import { pgPreflight } from './postgres-step.ts'

export type Operation = 'failover' | 'failback'

export interface Plan {
  pair: Pair
  operation: Operation
  /** The node the records name as active (or an interrupted run started from). */
  from: Node
  to: Node
  obs: Observation
  ips: IpDriver[]
  fence?: FenceDriver
  epoch: number
  /** Reachable nodes other than the target: what each must stop (the old active stops everything). */
  stop: { node: Node; services: string[] }[]
  /** Unreachable nodes other than the target that must be powered off (none already off). */
  powerOff: Node[]
  /** Unreachable nodes without a way to stop them (refusal unless --force). */
  unfenced: Node[]
  /** Unreachable nodes the fencing driver reads as powered off already: they hold nothing. */
  off: Node[]
  /** Where each address must be released. */
  release: { driver: IpDriver; node: Node }[]
  /** Preconditions that failed, each one line; refused unless --force. */
  problems: string[]
  /** Failures no flag overrides (the target cannot serve, a driver cannot act). */
  blockers: string[]
  /** What --force would risk, said before it is taken. */
  risks: string[]
  /** Said in the result and the audit log even when the run succeeds. */
  warnings: string[]
  /** Failback: the in-flight list the active node holds for the target, and what to do with it. */
  inflight?: { rec: InflightRecord; mode: InflightMode }
  resumed: boolean
  /** Nothing to do: every address is on the target alone, its services answer, the records name it. */
  noop: boolean
  noopDetail?: string
}

export interface PlanOptions {
  to?: string
  /** The operator decided which node is really active although the records disagree. */
  resolve?: boolean
  journal?: Journal
  /** Items each node lacks, from lib/freshness.ts (failover checks the target before acting). */
  behind?: (target: string) => Promise<{ item: string; why: string }[]>
  /** Failback: which versions win for paths the target changed and never shipped before a takeover. */
  inflight?: InflightMode
  /**
   * The newest epoch the caller has seen (the watcher remembers the records of nodes that are
   * gone now). The new epoch is above it: the reachable nodes' records alone may all be older
   * than the dead node's, and an epoch reused for another node makes two records that agree on
   * their epoch and not on who is active.
   */
  seenEpoch?: number
}

/**
 * The target: an explicit --to always wins (a later decision supersedes an interrupted run);
 * without one, an interrupted run is finished toward its own target.
 */
export function chooseTarget(pair: Pair, op: Operation, active: string, to: string | undefined, resumed?: Journal): string {
  if (to) {
    if (!pair.nodes.some((n) => n.name === to))
      throw new InputError(`--to ${to}: pair ${pair.name} has no such node (nodes: ${pair.nodes.map((n) => n.name).join(', ')})`)
    return to
  }
  // Failback always means the preferred primary; an interrupted failover elsewhere is superseded.
  if (resumed && (op === 'failover' || resumed.to === pair.primary)) return resumed.to
  if (op === 'failback') return pair.primary
  const others = pair.nodes.filter((n) => n.name !== active)
  if (others.length === 1) return others[0].name
  throw new InputError(
    `pair ${pair.name} has ${others.length} nodes besides the active ${active}: choose one with --to (${others.map((n) => n.name).join(', ')})`,
  )
}

/** The target can serve: reachable, its programs exist, what it already serves answers. */
async function targetProblems(pool: SshPool, pair: Pair, to: Node, obs: Observation): Promise<string[]> {
  if (!reachable(obs, to.name)) return [`target ${to.name} is not reachable: ${obs.view.unreachable[to.name]}`]
  const out = [...(await startable(pool.session(pair, to), pair))]
  const serving = (pair.services ?? []).filter((s) => !s.singleton && obs.services[to.name]?.[s.name]).map((s) => s.name)
  if (serving.length) {
    const r = await runServiceChecks(pool, pair, { node: to, addresses: [to.address], services: serving })
    out.push(...r.failures.map((f) => `target ${to.name} unhealthy: ${f}`))
  }
  return out
}

/** Whether the goal already holds: the quick, single-attempt version of the post-check. */
async function converged(pool: SshPool, pair: Pair, to: Node, obs: Observation, power: Record<string, PowerState>): Promise<string | undefined> {
  if (obs.view.active !== to.name) return undefined
  if (obs.problems.length) return undefined
  for (const n of pair.nodes) if (n.name !== to.name && !reachable(obs, n.name) && power[n.name] !== 'off') return undefined
  for (const ip of obs.ips) {
    if (ip.error || ip.holders.length !== 1 || ip.holders[0] !== to.name) return undefined
    if (ip.unknown.some((n) => power[n] !== 'off')) return undefined
  }
  for (const svc of pair.services ?? []) {
    if (obs.services[to.name]?.[svc.name] !== true) return undefined
    if (svc.singleton && runningOn(obs, svc.name).length !== 1) return undefined
  }
  const where = obs.ips.length ? obs.ips.map((i) => i.fip.address) : [to.address]
  if (!(await runServiceChecks(pool, pair, { node: to, addresses: where })).ok) return undefined
  return `${to.name} is already active (epoch ${obs.view.epoch}): it alone holds ${where.join(', ')}, runs ${(pair.services ?? []).map((s) => s.name).join(', ') || 'its services'} and answers: nothing to do`
}

export async function makePlan(inv: LoadedInventory, pool: SshPool, pair: Pair, obs: Observation, op: Operation, o: PlanOptions = {}): Promise<Plan> {
  const journal = o.journal
  const target = chooseTarget(pair, op, obs.view.active, o.to, journal)
  const resumed = !!journal && journal.to === target
  const fromName = resumed ? journal!.from : obs.view.active
  const node = (n: string) => pair.nodes.find((x) => x.name === n)!
  const toNode = node(target)
  const fence = fenceDriver({ inv, pair, pool })
  const ips = obs.ips.map((i) => i.driver)
  // An interrupted run's epoch is reused only while nothing newer was recorded since.
  const sameRun = resumed && (journal!.epoch > obs.maxEpoch || (journal!.epoch === obs.maxEpoch && obs.view.active === journal!.to))
  const epoch = sameRun ? journal!.epoch : Math.max(obs.maxEpoch, journal?.epoch ?? 0, o.seenEpoch ?? 0) + 1
  const plan: Plan = {
    pair,
    operation: op,
    from: node(fromName),
    to: toNode,
    obs,
    ips,
    fence,
    epoch,
    stop: [],
    powerOff: [],
    unfenced: [],
    off: [],
    release: [],
    problems: [],
    blockers: [],
    risks: [],
    warnings: [],
    resumed,
    noop: false,
  }

  // Unreachable nodes may still hold an address or run a singleton: off, or powered off now.
  const power: Record<string, PowerState> = {}
  const others = pair.nodes.filter((n) => n.name !== target)
  await Promise.all(
    others
      .filter((n) => !reachable(obs, n.name))
      .map(async (n) => {
        power[n.name] = fence ? await fence.status(n).catch(() => 'unknown' as const) : 'unknown'
      }),
  )

  const done = await converged(pool, pair, toNode, obs, power)
  if (done && !journal) {
    plan.noop = true
    plan.noopDetail = done
    return plan
  }

  for (const n of others) {
    if (reachable(obs, n.name)) {
      // The old active node stops everything (a fenced node writes nothing); any other node
      // stops the singletons it runs, so exactly one copy of each is live afterwards.
      const running = (pair.services ?? []).filter((s) => obs.services[n.name]?.[s.name] !== false)
      const services = n.name === fromName ? running.map((s) => s.name) : running.filter((s) => s.singleton).map((s) => s.name)
      if (services.length) plan.stop.push({ node: n, services })
      for (const ip of obs.ips) if (ip.state[n.name] !== 'free') plan.release.push({ driver: ip.driver, node: n })
    } else if (power[n.name] === 'off') {
      plan.off.push(n)
    } else if (fence) {
      plan.powerOff.push(n)
    } else {
      plan.unfenced.push(n)
    }
  }

  // What cannot be believed, or cannot be done, refuses before anything changes.
  if (obs.problems.length && !journal && !o.resolve) plan.blockers.push(problemsMessage(obs))
  if (o.resolve && !o.to) throw new InputError('--resolve needs --to NODE: the node you decided is really active')
  // The target, the drivers and the freshness are independent questions: ask them at once.
  const freshness =
    op === 'failover' && o.behind && !o.resolve && reachable(obs, target) && target !== obs.view.active && reachable(obs, obs.view.active)
      ? o.behind(target)
      : Promise.resolve([])
  freshness.catch(() => {
    /* awaited below */
  })
  const [targetIssues, driverIssues, pg] = await Promise.all([
    targetProblems(pool, pair, toNode, obs),
    driverProblems(plan),
    pgPreflight(pool, pair, obs, toNode),
  ])
  plan.blockers.push(...targetIssues)
  plan.problems.push(...pg.problems)
  plan.risks.push(...pg.risks)
  plan.warnings.push(...pg.warnings)
  for (const ip of obs.ips) if (ip.error) plan.blockers.push(`cannot observe ${ip.fip.address} (${ip.driver.kind}): ${ip.error}`)
  plan.blockers.push(...driverIssues)
  for (const n of plan.unfenced) {
    plan.problems.push(`cannot reach ${n.name} and pair ${pair.name} has no fencing driver, so it cannot be stopped`)
    plan.risks.push(
      `--force takes over while ${n.name} may still hold ${pair.floatingIps?.map((f) => f.address).join(', ') || 'its addresses'} and run ${
        (pair.services ?? [])
          .filter((s) => s.singleton)
          .map((s) => s.name)
          .join(', ') || 'its services'
      }: two live writers until it is stopped by hand`,
    )
  }
  // Failover checks freshness now; failback brings the target up to date first and checks after.
  if (o.resolve) {
    // The operator decided the records are wrong, so "the active node" they name is no reference.
    plan.warnings.push(
      `--resolve: freshness of ${target} not measured against ${obs.view.active}, which the records name; ${target}'s data becomes the reference`,
    )
  } else if (op === 'failover' && o.behind && reachable(obs, target) && target !== obs.view.active && !reachable(obs, obs.view.active)) {
    // The usual unplanned failover: what only the dead node had cannot be listed, so say it.
    plan.warnings.push(
      `${obs.view.active} cannot be reached, so ${target}'s freshness cannot be measured: changes made on ${obs.view.active} since its last sync are not on ${target}`,
    )
  } else {
    const lacks = await freshness
    if (lacks.length) {
      plan.problems.push(
        `target ${target} is behind the active node ${obs.view.active}: ${lacks.map((l) => `${l.item} (${l.why})`).join('; ')}; run sync first, or --force loses those changes`,
      )
      plan.risks.push(`--force makes ${target} active without ${lacks.map((l) => l.item).join(', ')} as ${obs.view.active} has them`)
    }
  }
  if (op === 'failback') await inflightCheck(pool, plan, o.inflight)
  if (journal && !resumed)
    plan.warnings.push(`an interrupted ${journal.operation} ${journal.from} -> ${journal.to} (epoch ${journal.epoch}) is superseded by this run`)
  if (o.resolve && obs.problems.length)
    plan.warnings.push(`--resolve: records rewritten at epoch ${epoch} although ${obs.problems.map((p) => p.detail).join('; ')}`)
  return plan
}

/**
 * Failback onto a node whose last changes before a takeover never reached the active node: its
 * versions of those paths are the only ones, and the sync-back would overwrite them. Without
 * --inflight the failback refuses, naming them; with it, the plan says what will happen.
 */
async function inflightCheck(pool: SshPool, plan: Plan, mode: InflightMode | undefined): Promise<void> {
  const active = plan.obs.view.active
  if (active === plan.to.name || !reachable(plan.obs, active) || !plan.pair.sync?.items.length) return
  let rec: ReadInflight
  try {
    rec = await readInflight(pool, plan.pair, active)
  } catch (e) {
    if (e instanceof RemoteError) return
    throw e
  }
  if (!rec) return
  if ('bad' in rec) {
    plan.warnings.push(`${rec.bad}: cannot tell which of ${plan.to.name}'s changes never reached ${active}`)
    return
  }
  if (rec.node !== active || rec.source !== plan.to.name || (rec.count === 0 && rec.incomplete.length === 0)) return
  const what = describeInflight(plan.pair, rec, active)!
  const inexact = rec.incomplete.length ? `; the list is not exact for ${rec.incomplete.join(', ')}: only the listed paths are recovered` : ''
  if (!mode) {
    plan.blockers.push(
      `${what}; the sync-back would overwrite ${plan.to.name}'s versions of them: choose --inflight recover (${plan.to.name}'s versions are shipped to ${active} first; the copies they replace are kept on ${active} under ${stateDir(plan.pair)}/inflight-replaced/) or --inflight discard (${active}'s versions win)`,
    )
    return
  }
  plan.inflight = { rec, mode }
  plan.warnings.push(
    mode === 'recover'
      ? `--inflight recover: ${rec.count} path(s) go from ${plan.to.name} to ${active} before the sync-back (${active}'s replaced copies kept under ${stateDir(plan.pair)}/inflight-replaced/)${inexact}`
      : `--inflight discard: ${plan.to.name}'s versions of ${rec.count} path(s) it changed before the takeover are overwritten by ${active}'s`,
  )
}

/** Every driver must be able to act before the first change: credentials, power readings. */
async function driverProblems(p: Plan): Promise<string[]> {
  const checks = p.ips.map((d) => d.check())
  if (p.fence && p.powerOff.length) checks.push(p.fence.check())
  return (await Promise.all(checks)).flat()
}

/** The exact steps, for --dry-run and the confirmation prompt. */
export function describePlan(p: Plan): string[] {
  if (p.noop) return [`${p.operation} of pair ${p.pair.name}: ${p.noopDetail}`]
  const lines = [
    `${p.operation} of pair ${p.pair.name}: ${p.from.name} -> ${p.to.name} (epoch ${p.epoch})${p.resumed ? ' [finishing an interrupted run]' : ''}`,
  ]
  lines.push(`1. lock pair ${p.pair.name} on every reachable node; stop any sync in progress`)
  lines.push(`2. preflight ${p.to.name}: reachable, services startable, healthy, not behind; drivers able to act`)
  if (p.operation === 'failback') lines.push(`2b. sync every item from the active node to every other node; refuse if ${p.to.name} did not get it all`)
  for (const s of p.stop)
    for (const name of s.services) {
      const svc = (p.pair.services ?? []).find((x) => x.name === name)!
      lines.push(`3. fence: ${s.node.name}: ${svc.stop}`)
    }
  for (const n of p.powerOff) lines.push(...p.fence!.describe('stop', n).map((l) => `3. fence (unreachable): ${l}`))
  for (const n of p.unfenced) lines.push(`3. fence: ${n.name} unreachable and no fencing driver: REFUSED unless --force`)
  for (const n of p.off) lines.push(`3. fence: ${n.name} is powered off already (${p.fence?.kind}): nothing to stop`)
  for (const r of p.release) lines.push(...r.driver.describe('stop', r.node).map((l) => `4. move ${r.driver.fip.address}: ${l}`))
  for (const d of p.ips) lines.push(...d.describe('start', p.to).map((l) => `4. move ${d.fip.address}: ${l}`))
  for (const s of p.pair.services ?? []) lines.push(`5. start: ${p.to.name}: ${s.start}`)
  const where = p.ips.length ? p.ips.map((d) => d.fip.address).join(', ') : p.to.address
  for (const s of p.pair.services ?? [])
    for (const c of s.checks) {
      lines.push(
        `6. post-check ${s.name}: ${c.protocol === 'command' ? `${p.to.name}: ${c.command}` : `${c.protocol} ${where}:${c.port} answers as ${p.to.name}`}`,
      )
    }
  lines.push(`7. record ${p.to.name} active at epoch ${p.epoch} on every reachable node; audit log`)
  for (const x of p.risks) lines.push(`risk: ${x}`)
  for (const w of p.warnings) lines.push(`warning: ${w}`)
  return lines
}
