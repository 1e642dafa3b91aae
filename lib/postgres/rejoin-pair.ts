// A node that was down during a failover comes back with its PostgreSQL stopped (nothing starts
// a singleton on boot) and possibly a timeline of its own: under the pair's lock, every reachable
// node other than the live primary is rewound (or re-cloned) into a streaming standby of it.
import type { LoadedInventory } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { RefusedError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { acquireLock } from '../lock.ts'
import { observe, reachable } from '../observe.ts'
import { pgService, pgSettings, syncStandbyNames } from './config.ts'
import { sessionExec } from './exec.ts'
import { probePg } from './state.ts'
import { rejoinAsStandby, setSyncStandbys } from './standby.ts'
import { writeNodeState } from '../state.ts'

export async function rejoinPair(inv: LoadedInventory, pool: SshPool, pair: Pair): Promise<string[]> {
  const svc = pgService(pair)
  if (!svc) return [`pair ${pair.name} has no postgresql service`]
  const pg = pgSettings(svc.postgresql)
  const lock = await acquireLock(pool, pair, 'pg-rejoin')
  try {
    const obs = await observe(inv, pool, pair)
    const node = (n: string) => pair.nodes.find((x) => x.name === n)!
    const primaries = pair.nodes.filter((n) => reachable(obs, n.name) && obs.services[n.name]?.[svc.name] === true)
    // The recorded active node must be the one primary: anything else is for failover --resolve to sort out.
    if (primaries.length !== 1 || primaries[0].name !== obs.view.active) {
      throw new RefusedError(
        `refused: ${obs.view.active} is recorded active but the primaries are [${primaries.map((n) => n.name).join(', ')}]; run failover --to ${obs.view.active} first`,
      )
    }
    const p = node(obs.view.active)
    const pExec = sessionExec(pool.session(pair, p))
    const now = await probePg(pExec, pg)
    const out: string[] = []
    for (const n of pair.nodes) {
      if (n.name === p.name) continue
      if (!reachable(obs, n.name)) {
        out.push(`${n.name} unreachable: skipped`)
        continue
      }
      if (now.replicas.some((r) => r.name === n.name && r.state === 'streaming')) {
        out.push(`${n.name} already streams`)
        continue
      }
      const s = pool.session(pair, n)
      const r = await rejoinAsStandby(
        {
          exec: sessionExec(s),
          name: n.name,
          start: async () => {
            await s.run({ script: svc.start })
          },
        },
        { exec: pExec, node: p },
        pg,
      )
      out.push(`${n.name} streams from ${p.name} (${r.how === 'none' ? 'no rewind needed' : r.how}, ${r.ms} ms)`)
    }
    // A node that was down when the takeover was recorded still names an older epoch: it learns
    // the current one, so the next failover's epoch is above it even if only this node is left.
    const rec = obs.view.record
    if (rec) {
      for (const n of pair.nodes) {
        const mine = obs.view.states[n.name]?.active
        if (n.name === p.name || !reachable(obs, n.name) || (mine && mine.epoch >= rec.epoch)) continue
        await writeNodeState(pool.session(pair, n), pair, 'active', rec)
        out.push(`${n.name} records ${rec.active} active at epoch ${rec.epoch}`)
      }
    }
    if (pg.mode === 'sync') {
      const names = (await probePg(pExec, pg)).replicas.filter((r) => r.state === 'streaming').map((r) => r.name)
      if (names.length && syncStandbyNames(names) !== now.syncNames) out.push(`synchronous_standby_names = '${await setSyncStandbys(pExec, pg, names)}'`)
    }
    return out
  } finally {
    await lock.release()
  }
}
