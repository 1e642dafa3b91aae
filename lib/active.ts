// Which node is active: the highest epoch recorded on any reachable node wins; with no
// record yet, the inventory's primary. Sync (direction guard), verify and failover all ask here.
import type { Pair } from './inventory/schema.ts'
import { RemoteError } from './errors.ts'
import type { SshPool } from './ssh.ts'
import { newestActive, readNodeState, type ActiveRecord, type NodeState } from './state.ts'

export interface ActiveView {
  active: string
  epoch: number
  source: 'epoch' | 'inventory'
  record?: ActiveRecord
  /** Per reachable node, what it has on disk. */
  states: Record<string, NodeState & { corrupt: string[] }>
  /** Nodes that could not be asked, with why. */
  unreachable: Record<string, string>
}

export async function activeView(pool: SshPool, pair: Pair): Promise<ActiveView> {
  const states: ActiveView['states'] = {}
  const unreachable: ActiveView['unreachable'] = {}
  await Promise.all(pair.nodes.map(async (n) => {
    try {
      states[n.name] = await readNodeState(pool.session(pair, n), pair)
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e
      unreachable[n.name] = e.message
    }
  }))
  const record = newestActive(Object.values(states).map((s) => s.active))
  return {
    active: record?.active ?? pair.primary,
    epoch: record?.epoch ?? 0,
    source: record ? 'epoch' : 'inventory',
    record,
    states,
    unreachable,
  }
}
