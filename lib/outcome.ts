// What a check or a backup verification reports when a node could not be asked or a remote
// command failed: shared by lib/checks and lib/backup, so neither reaches into the other.
import { HapairError, RemoteError, withHint } from './errors.ts'
import type { Pair } from './inventory/schema.ts'
import type { CheckResult } from './checks/types.ts'

/** Remote commands that read whole trees or archives get far longer than the inventory's per-command default. */
export const LONG_TIMEOUT_MS = 4 * 60 * 60 * 1000

export function failureDetail(e: unknown): string {
  if (e instanceof RemoteError && e.notAsked) return `unreachable: ${withHint(e)}`
  if (e instanceof HapairError) return `error: ${e.message}`
  throw e
}

export function unreachableResult(pair: Pair, node: string, check: string, why: RemoteError | string): CheckResult {
  const detail = typeof why === 'string' ? `unreachable: ${why}` : `unreachable: ${withHint(why)}`
  return { pair: pair.name, node, check, ok: false, detail, ms: 0 }
}
