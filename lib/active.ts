// Which node the records name as active: the highest valid epoch recorded on any reachable
// node wins; with no record yet, the inventory's primary. Records that fail their check are
// in states[node].bad and never count (lib/observe.ts reports them and callers refuse).
import type { Pair } from './inventory/schema.ts'
import { RemoteError } from './errors.ts'
import type { SshPool } from './ssh.ts'
import { newestActive, readNodeState, type ActiveRecord, type ReadState } from './state.ts'

export interface ActiveView {
  active: string
  epoch: number
  source: 'epoch' | 'inventory'
  record?: ActiveRecord
  /** Per reachable node, what it has on disk. */
  states: Record<string, ReadState>
  /** Nodes that could not be asked, with why. */
  unreachable: Record<string, string>
  /** The same nodes' errors, for their flags (which hint to give): never parse the message. */
  errors?: Record<string, RemoteError>
}

export async function activeView(pool: SshPool, pair: Pair, opts: { timeoutMs?: number } = {}): Promise<ActiveView> {
  const states: ActiveView['states'] = {}
  const errors: Record<string, RemoteError> = {}
  await Promise.all(
    pair.nodes.map(async (n) => {
      try {
        states[n.name] = await readNodeState(pool.session(pair, n), pair, opts)
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        errors[n.name] = e
      }
    }),
  )
  return viewOf(pair, states, errors)
}

/** The view from what each node answered (its records) or why it could not be asked. Pure: the watcher's combined read (lib/watch/refresh.ts) uses it too. */
export function viewOf(pair: Pair, states: Record<string, ReadState>, errors: Record<string, RemoteError>): ActiveView {
  const unreachable: ActiveView['unreachable'] = Object.fromEntries(Object.entries(errors).map(([n, e]) => [n, e.message]))
  const record = newestActive(Object.values(states).map((s) => s.active))
  return {
    active: record?.active ?? pair.primary,
    epoch: record?.epoch ?? 0,
    source: record ? 'epoch' : 'inventory',
    record,
    states,
    unreachable,
    errors,
  }
}
