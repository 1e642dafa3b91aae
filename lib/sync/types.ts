// Shapes shared by the sync modules: what one item did for one target, and the run's report.
import type { DegradedRecord } from '../state.ts'
import type { Refusal } from './delete-guard.ts'

export type Transport = 'rsync' | 'sftp'
export type Policy = 'equal' | 'upgrade' | 'downgrade' | 'always'
export const POLICIES: readonly Policy[] = ['equal', 'upgrade', 'downgrade', 'always']

/**
 * ok: delivered; skipped: deliberately not sent (version policy, protected item);
 * failed: tried and did not arrive; pending: not tried because the target could not be reached.
 * dry-run: what would change, nothing written. refused: sent, but its mirror deletions broke
 * the delete limit, so none was made (exit 3; --force lifts it).
 */
export type Outcome = 'ok' | 'skipped' | 'failed' | 'pending' | 'dry-run' | 'refused'

export interface ItemResult {
  item: string
  target: string
  transport: Transport
  priority: number
  outcome: Outcome
  /** One line: why skipped, failed or pending; a warning for ok (e.g. files vanished). */
  reason?: string
  /** The failure is the link's (unreachable, dropped, timed out): the changes are held and the run is degraded. */
  link?: boolean
  /** Regular files in the source item (after protected and excluded paths). */
  files: number
  /** Regular files sent (created or updated). */
  sent: number
  deleted: number
  /** Regular files already up to date. */
  unchanged: number
  /** File data sent (bytes that were not already on the target). */
  bytes: number
  /** Bytes on the wire to the target, protocol included (rsync only). */
  wireBytes?: number
  /** Data versions compared for this item (absent when neither node declares one). */
  versions?: { source?: string; target?: string }
  startedAt: string
  ms: number
  /** Dry run: the itemised list, rsync's `%i %n` format. */
  changes?: string[]
  /** Dry run: file data a real run would send. For the text report only: --json leaves it out (see jsonReport). */
  dryRunBytes?: number
  /** outcome refused: how many files it would have deleted, the limit, the first paths. */
  refused?: Refusal
  /** outcome failed because a safety check refused it (the hop's host key): exit 3, and the item is still owed. */
  refusedForSafety?: boolean
}

export interface SyncReport {
  pair: string
  source: string
  activeFrom: 'epoch' | 'inventory'
  epoch: number
  targets: string[]
  dryRun: boolean
  bootstrap?: string
  /** In the order they ran: priority first, then target. */
  results: ItemResult[]
  /** Host keys the controller added to the source's node known_hosts before the hop. */
  pinned: string[]
  /** The degraded mark after this run (null: cleared or never set). Unchanged by a dry run. */
  degraded: DegradedRecord | null
  exitCode: number
  ms: number
}

export const emptyCounts = { files: 0, sent: 0, deleted: 0, unchanged: 0, bytes: 0 }
