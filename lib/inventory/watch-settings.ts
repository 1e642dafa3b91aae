// The watcher's effective settings for one pair (here, with the inventory they are read from, so
// validation and the watcher share them without importing each other): inventory defaults, then the pair's own block,
// then the built-in defaults below, chosen for the targets in the README (a verdict in about
// 0.15 s that 20% packet loss cannot fake). watchProblems holds the rules between timers that
// JSON Schema cannot say; validate runs it, so a bad block exits 2 before anything is probed.
import type { Inventory, Pair, Watch } from './schema.ts'
import type { Problem } from './validate.ts'

export interface WatchSettings {
  intervalMs: number
  deadAfterMs: number
  checkIntervalMs: number
  hungAfterMs: number
  holdDownMs: number
  maxTakeoversPerHour: number
  autoFailback: boolean
  onServiceFailure: 'restart' | 'failover' | 'alert'
  maxRestarts: number
  serviceFailAfterMs: number
  hooks?: Watch['hooks']
  metrics?: Watch['metrics']
}

export const WATCH_DEFAULTS: Omit<WatchSettings, 'hooks' | 'metrics'> = {
  intervalMs: 20,
  deadAfterMs: 150,
  checkIntervalMs: 500,
  hungAfterMs: 1500,
  holdDownMs: 60_000,
  maxTakeoversPerHour: 2,
  autoFailback: false,
  onServiceFailure: 'restart',
  maxRestarts: 3,
  serviceFailAfterMs: 3000,
}

export interface LeaseSettings {
  leaseMs: number
  marginMs: number
  renewMs: number
}
export const LEASE_DEFAULTS: LeaseSettings = { leaseMs: 1000, marginMs: 300, renewMs: 200 }

const defined = <T extends object>(o: T | undefined): Partial<T> => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>

export function watchSettings(inv: Pick<Inventory, 'defaults'>, pair: Pair): WatchSettings {
  return { ...WATCH_DEFAULTS, ...defined(inv.defaults?.watch), ...defined(pair.watch) } as WatchSettings
}

export function leaseSettings(pair: Pair): LeaseSettings {
  return { ...LEASE_DEFAULTS, ...defined(pair.fencing?.lease) }
}

/** Timer rules, reported at the block that breaks them (pairs/N/watch/... or defaults/watch/...). */
export function watchProblems(inv: Inventory, out: Problem[]): void {
  const check = (w: WatchSettings, at: string, own: Partial<Watch>) => {
    const where = (k: keyof Watch) => (k in own ? `${at}/${k}` : at)
    if (w.deadAfterMs < 3 * w.intervalMs)
      out.push({
        path: where('deadAfterMs'),
        message: `must be at least 3 probe intervals (${3 * w.intervalMs} ms with intervalMs ${w.intervalMs}): one lost probe must never look like a dead node (got ${w.deadAfterMs})`,
      })
    if (w.hungAfterMs < 2 * w.checkIntervalMs)
      out.push({ path: where('hungAfterMs'), message: `must be at least 2 check intervals (${2 * w.checkIntervalMs} ms) (got ${w.hungAfterMs})` })
    if (w.hungAfterMs <= w.deadAfterMs)
      out.push({
        path: where('hungAfterMs'),
        message: `must be longer than deadAfterMs (${w.deadAfterMs}): a hung node is judged on slower evidence than a dead one (got ${w.hungAfterMs})`,
      })
    if (w.serviceFailAfterMs < w.checkIntervalMs)
      out.push({ path: where('serviceFailAfterMs'), message: `must be at least one check interval (${w.checkIntervalMs} ms) (got ${w.serviceFailAfterMs})` })
  }
  if (inv.defaults?.watch) check(watchSettings({ defaults: inv.defaults }, { watch: undefined } as Pair), 'defaults/watch', inv.defaults.watch)
  inv.pairs.forEach((p, i) => {
    if (p.watch) check(watchSettings(inv, p), `pairs/${i}/watch`, p.watch)
    if (p.fencing?.driver === 'lease') {
      const l = leaseSettings(p)
      const at = `pairs/${i}/fencing/lease`
      if (l.renewMs * 3 > l.leaseMs)
        out.push({
          path: `${at}/renewMs`,
          message: `must be at most a third of leaseMs (${Math.floor(l.leaseMs / 3)} ms): two lost renewals must not expire the lease (got ${l.renewMs})`,
        })
    }
    if (p.fencing?.lease && p.fencing.driver !== 'lease')
      out.push({ path: `pairs/${i}/fencing/lease`, message: `only allowed with driver "lease" (driver is "${p.fencing.driver}")` })
  })
}
