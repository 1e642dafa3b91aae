// One observed view of a pair, used by status, failover, failback, sync and verify: per node
// reachability and records (checked), who holds each floating IP and where each service runs,
// all probed now. Records say what was intended; this module says where they disagree with
// what is, so that no caller falls back silently to a lower epoch or the inventory primary.
import type { LoadedInventory } from './inventory/load.ts'
import type { FloatingIp, Pair } from './inventory/schema.ts'
import { HapairError, RemoteError } from './errors.ts'
import { playbookCommand } from './hint.ts'
import type { SshPool } from './ssh.ts'
import { activeView, type ActiveView } from './active.ts'
import { ipDriver } from './drivers/index.ts'
import type { HoldState, IpDriver } from './drivers/types.ts'
import { runningServices } from './services.ts'

export interface IpObservation {
  fip: FloatingIp
  driver: IpDriver
  state: Record<string, HoldState>
  holders: string[]
  /** Nodes whose hold could not be asked (unreachable, or the provider API failed). */
  unknown: string[]
  /** Why the driver could not observe at all (a provider API error), if so. */
  error?: string
}

/** A disagreement between records and reality, or a record that cannot be believed. */
export interface Problem {
  kind: 'corrupt' | 'contradiction' | 'jump'
  node?: string
  detail: string
}

export interface Observation {
  pair: Pair
  view: ActiveView
  /** Per node, per service: running (true/false), null when the node could not be asked. */
  services: Record<string, Record<string, boolean | null>>
  ips: IpObservation[]
  /** The highest valid epoch on any reachable node (what a new epoch must exceed). */
  maxEpoch: number
  problems: Problem[]
  ms: number
}

export const reachable = (o: Observation, node: string) => !(node in o.view.unreachable)

/** Nodes running a service now (by its status command). */
export function runningOn(o: Observation, service: string): string[] {
  return o.pair.nodes.map((n) => n.name).filter((n) => o.services[n]?.[service] === true)
}

async function observeIp(inv: LoadedInventory, pool: SshPool, pair: Pair, fip: FloatingIp): Promise<IpObservation> {
  const names = pair.nodes.map((n) => n.name)
  let driver: IpDriver | undefined
  try {
    driver = ipDriver(fip, { inv, pair, pool })
    const state = await driver.status()
    return {
      fip,
      driver,
      state,
      holders: names.filter((n) => state[n] === 'held'),
      unknown: names.filter((n) => state[n] === 'unknown' || state[n] === undefined),
    }
  } catch (e) {
    if (!(e instanceof HapairError)) throw e
    // A driver that cannot even be built (no token) observes nothing; the plan refuses on `error`.
    driver ??= {
      kind: fip.driver,
      fip,
      validate: () => [],
      status: async () => ({}),
      check: async () => [e.message],
      start: async () => {
        throw e
      },
      stop: async () => {
        throw e
      },
      describe: () => [],
    }
    return { fip, driver, state: Object.fromEntries(names.map((n) => [n, 'unknown' as const])), holders: [], unknown: names, error: e.message }
  }
}

/** Record problems, pure: corrupt files, records the observation contradicts, epochs that jump. */
export function recordProblems(pair: Pair, view: ActiveView, ips: Pick<IpObservation, 'fip' | 'holders'>[], services: Observation['services']): Problem[] {
  const out: Problem[] = []
  for (const [node, st] of Object.entries(view.states)) {
    for (const b of st.bad ?? []) out.push({ kind: 'corrupt', node, detail: `${node}: ${b.file} is unusable: ${b.why}` })
  }
  const who = view.record
    ? `the records say ${view.active} is active (epoch ${view.epoch})`
    : `no failover is recorded, so the inventory primary ${view.active} should be active`
  for (const ip of ips) {
    if (ip.holders.length && !ip.holders.includes(view.active))
      out.push({ kind: 'contradiction', detail: `${who}, but ${ip.fip.address} is on ${ip.holders.join(' and ')}` })
  }
  for (const svc of pair.services ?? []) {
    if (!svc.singleton) continue
    const on = pair.nodes.map((n) => n.name).filter((n) => services[n]?.[svc.name] === true)
    if (on.length && !on.includes(view.active)) out.push({ kind: 'contradiction', detail: `${who}, but singleton ${svc.name} runs on ${on.join(' and ')}` })
  }
  // Every failover writes its epoch on every node it reaches: a record far above all the others,
  // held by one node alone, was not written by a failover.
  const epochs = Object.entries(view.states)
    .filter(([, st]) => st.active)
    .map(([n, st]) => ({ n, e: st.active!.epoch }))
  if (epochs.length >= 2) {
    const top = Math.max(...epochs.map((x) => x.e))
    const holders = epochs.filter((x) => x.e === top)
    const rest = epochs.filter((x) => x.e !== top).map((x) => x.e)
    if (holders.length === 1 && rest.length && top > Math.max(...rest) + 1) {
      out.push({
        kind: 'jump',
        node: holders[0].n,
        detail: `${holders[0].n}'s record jumps to epoch ${top} while the other nodes are at ${Math.max(...rest)}: it was not written by a failover`,
      })
    }
  }
  return out
}

/** `view`: the records read another way (status reads them with its other files, lib/status-read.ts); by default activeView's. */
export async function observe(inv: LoadedInventory, pool: SshPool, pair: Pair, opts: { view?: Promise<ActiveView> } = {}): Promise<Observation> {
  const started = Date.now()
  // Records, services and addresses are asked at once: each question is a round trip per node.
  const services: Observation['services'] = {}
  const failed: Record<string, RemoteError> = {}
  const none = () => Object.fromEntries((pair.services ?? []).map((s) => [s.name, null]))
  const [view, ips] = await Promise.all([
    opts.view ?? activeView(pool, pair),
    Promise.all((pair.floatingIps ?? []).map((f) => observeIp(inv, pool, pair, f))),
    Promise.all(
      pair.nodes.map(async (n) => {
        try {
          services[n.name] = await runningServices(pool.session(pair, n), pair)
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e
          services[n.name] = none()
          failed[n.name] = e
        }
      }),
    ),
  ])
  // A node that answered its records but not its services is unreachable all the same.
  for (const [n, e] of Object.entries(failed)) {
    if (n in view.unreachable) continue
    view.unreachable[n] = e.message
    ;(view.errors ??= {})[n] = e
  }
  const maxEpoch = Math.max(0, ...Object.values(view.states).map((s) => s.active?.epoch ?? 0))
  return { pair, view, services, ips, maxEpoch, problems: recordProblems(pair, view, ips, services), ms: Date.now() - started }
}

/** The one-line way out an operator is told when records cannot be believed. */
export function resolveCommand(o: Observation): string {
  const holder = o.ips.find((i) => i.holders.length === 1)?.holders[0]
  const singleton = (o.pair.services ?? []).find((s) => s.singleton)
  const runs = singleton ? runningOn(o, singleton.name) : []
  const node = holder ?? (runs.length === 1 ? runs[0] : undefined) ?? o.view.active
  return playbookCommand('failover', ['--pair', o.pair.name, '--to', node, '--resolve', '--yes'])
}

/** Refuses (exit 3) when records cannot be believed: the message names each problem and the way out. */
export function problemsMessage(o: Observation): string {
  return (
    `the records of pair ${o.pair.name} cannot be trusted: ${o.problems.map((p) => p.detail).join('; ')}. ` +
    `Look at \`${playbookCommand('status', ['--pair', o.pair.name])}\`, decide which node is really active, then: ${resolveCommand(o)}`
  )
}
