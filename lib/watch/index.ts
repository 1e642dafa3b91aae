// The watcher for one or many pairs: one pinned SSH pool, one PairWatcher per pair, every
// event out as one JSON line (or a readable line) and to the pair's hooks, metrics served
// when a pair asks for them. playbooks/watch.ts is the CLI over watch().
import type { LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { SshPool } from '../ssh.ts'
import { watchSettings } from '../inventory/watch-settings.ts'
import { HookRunner, type EventName, type WatchEvent } from './events.ts'
import { watchMetrics, type Metrics } from './metrics.ts'
import { PairWatcher } from './pair.ts'
import type http from 'node:http'

export { PairWatcher } from './pair.ts'
export { decide } from './decide.ts'
export { watchSettings, watchProblems, WATCH_DEFAULTS } from '../inventory/watch-settings.ts'

export interface WatchHandle {
  watchers: PairWatcher[]
  metrics: Metrics
  /** Stops probing, flushes the hooks (bounded), closes connections. */
  stop(): Promise<void>
}

export interface RunWatchOptions {
  /** Each event, already a JSON object. */
  onEvent: (e: WatchEvent) => void
  pool?: SshPool
  refreshMs?: number
}

export async function watch(inv: LoadedInventory, pairs: Pair[], o: RunWatchOptions): Promise<WatchHandle> {
  const pool = o.pool ?? new SshPool(inv)
  const metrics = watchMetrics()
  const hooks = new Map<string, HookRunner>()
  const emit = (pair: string, event: EventName, fields: Record<string, unknown> = {}) => {
    const now = Date.now()
    const e: WatchEvent = { at: new Date(now).toISOString(), ms: now, pair, event, ...fields }
    o.onEvent(e)
    if (event !== 'hook-failed') hooks.get(pair)?.push(e)
  }
  for (const p of pairs) {
    const h = watchSettings(inv.data, p).hooks
    if (h) hooks.set(p.name, new HookRunner(h, (what, why) => emit(p.name, 'hook-failed', { hook: what, error: why })))
  }
  const servers: http.Server[] = []
  const ports = new Set<string>()
  for (const p of pairs) {
    const m = watchSettings(inv.data, p).metrics
    if (!m) continue
    const k = `${m.address ?? '127.0.0.1'}:${m.port}`
    if (ports.has(k)) continue
    ports.add(k)
    servers.push(await metrics.serve(m.port, m.address ?? '127.0.0.1'))
  }
  const watchers = pairs.map((p) => new PairWatcher(inv, pool, p, { emit, metrics, refreshMs: o.refreshMs }))
  await Promise.all(watchers.map((w) => w.start()))
  return {
    watchers,
    metrics,
    async stop() {
      for (const w of watchers) w.stop()
      for (const w of watchers) emit(w.pair.name, 'stopped', { active: w.active, epoch: w.epoch })
      await Promise.race([Promise.all([...hooks.values()].map((h) => h.idle())), new Promise((r) => setTimeout(r, 3000))])
      for (const h of hooks.values()) h.discard()
      for (const s of servers) s.close()
      if (!o.pool) pool.close()
    },
  }
}

/** One readable line per event, for a terminal. */
export function formatEvent(e: WatchEvent): string {
  const { at, ms: _ms, pair, event, ...rest } = e
  const detail = typeof rest.detail === 'string' ? rest.detail : ''
  delete rest.detail
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
  return `${at} ${pair} ${event}${fields ? ` ${fields}` : ''}${detail ? `: ${detail}` : ''}`
}
