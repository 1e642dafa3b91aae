// Degraded mode (N3) as records on the active node: which items each target still lacks, and
// when each item last reached each target. Pure merges (records.ts writes them); status reports
// the mark. Failover does not trust it: it measures what the target lacks (lib/freshness.ts).
import type { DegradedRecord, SyncRecord } from '../state.ts'
import type { ItemResult } from './types.ts'

/** An item is still owed to a target when it was meant to go and did not arrive. */
const owed = (r: ItemResult) => r.outcome === 'failed' || r.outcome === 'pending'

/**
 * The mark after a run: earlier pending items stay until delivered, new failures are added,
 * items a policy now skips are dropped (they are not meant to go). Null when nothing is owed.
 */
export function mergeDegraded(prev: DegradedRecord | undefined, results: ItemResult[], now: string): DegradedRecord | null {
  const pending: Record<string, Set<string>> = {}
  for (const [t, items] of Object.entries(prev?.pending ?? {})) pending[t] = new Set(items)
  for (const r of results) {
    const set = (pending[r.target] ??= new Set())
    if (owed(r)) set.add(r.item)
    else if (r.outcome === 'ok' || r.outcome === 'skipped') set.delete(r.item)
  }
  const out: Record<string, string[]> = {}
  for (const [t, set] of Object.entries(pending)) if (set.size) out[t] = [...set].sort()
  if (Object.keys(out).length === 0) return null
  const failures = results.filter(owed)
  const byTarget = new Map<string, string>()
  for (const f of failures) if (!byTarget.has(f.target)) byTarget.set(f.target, `${f.target}: ${f.reason ?? f.outcome}`)
  return {
    since: prev?.since ?? now,
    reason: byTarget.size ? [...byTarget.values()].join('; ') : (prev?.reason ?? 'changes pending'),
    pending: out,
  }
}

/** Last successful sync per item and target: the time the delivered copy was taken. */
export function mergeSyncTimes(prev: SyncRecord | undefined, results: ItemResult[]): SyncRecord {
  const items: SyncRecord['items'] = {}
  for (const [i, t] of Object.entries(prev?.items ?? {})) items[i] = { ...t }
  for (const r of results) if (r.outcome === 'ok') (items[r.item] ??= {})[r.target] = r.startedAt
  return { items }
}
