// Before a failback switches over, the preferred primary gets the active node's data.
import type { LoadedInventory } from '../inventory/load.ts'
import { RefusedError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { activeView } from '../active.ts'
import { staleItems } from './freshness.ts'
import type { Plan } from './plan.ts'

export async function failbackSync(inv: LoadedInventory, pool: SshPool, plan: Plan, force: boolean): Promise<void> {
  const view = await activeView(pool, plan.pair)
  const stale = staleItems(plan.pair, view, plan.to.name)
  if (stale.length && !force) {
    throw new RefusedError(`refused: ${plan.to.name} has not received ${stale.join(', ')} since it stopped being active (${view.record?.since}); sync it first, or --force switches to possibly older data`)
  }
}
