// Failback returns the service to the preferred primary, whose data stopped changing when it
// lost the active role. It is fresh only if every sync item reached it after that moment.
import type { Pair } from '../inventory/schema.ts'
import type { ActiveView } from '../active.ts'

/** Items whose last sync to `node` is older than the moment it stopped being active (empty: fresh). */
export function staleItems(pair: Pair, view: ActiveView, node: string): string[] {
  const since = view.record?.since
  if (!since) return []
  const rec = view.states[view.active]?.sync
  return (pair.sync?.items ?? []).filter((it) => {
    const at = rec?.items?.[it.name]?.[node]
    return !at || at < since
  }).map((it) => it.name)
}
