// Before a failback switches over, the preferred primary gets the active node's data: a normal
// sync out of the active node (the direction guard holds) to the primary, then a freshness check.
import type { LoadedInventory } from '../inventory/load.ts'
import { RefusedError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { activeView } from '../active.ts'
import { runSync } from '../sync/index.ts'
import { staleItems } from './freshness.ts'
import type { Plan } from './plan.ts'

export async function failbackSync(inv: LoadedInventory, pool: SshPool, plan: Plan, force: boolean): Promise<string> {
  if (!plan.pair.sync?.items.length) return 'no sync items'
  // lockHeld: this failback holds the pair's lock itself; sync refuses to run under anyone else's.
  const report = await runSync(inv, plan.pair, pool, { to: plan.to.name, lockHeld: true })
  const bad = report.results.filter((r) => r.outcome !== 'ok' && r.outcome !== 'skipped')
  const sent = report.results.reduce((n, r) => n + r.sent, 0)
  if (bad.length && !force) {
    throw new RefusedError(`refused: bringing ${plan.to.name} up to date failed: ${bad.map((r) => `${r.item}: ${r.reason ?? r.outcome}`).join('; ')}; --force switches to possibly older data`)
  }
  const view = await activeView(pool, plan.pair)
  const stale = staleItems(plan.pair, view, plan.to.name)
  if (stale.length && !force) {
    throw new RefusedError(`refused: ${plan.to.name} has not received ${stale.join(', ')} since it stopped being active (${view.record?.since}); sync it first, or --force switches to possibly older data`)
  }
  return `synced ${report.results.length} item(s) to ${plan.to.name} (${sent} files sent)${bad.length ? `; forced past: ${bad.map((r) => r.item).join(', ')}` : ''}`
}
