// Every check by name, in the order a person reads the report: can the nodes talk, are the
// preconditions met, is the data the same, is the service where it should be, is the daily
// routine (backups, archiving, error log) happening.
import { InputError } from '../errors.ts'
import type { Pair } from '../inventory/schema.ts'
import { archivingCheck } from './archiving.ts'
import { backupsCheck } from './backups.ts'
import { clockSkewCheck } from './clock-skew.ts'
import { errorLogCheck } from './error-log.ts'
import { floatingIpCheck } from './floating-ip.ts'
import { identicalFilesCheck } from './identical-files.ts'
import { latencyCheck } from './latency.ts'
import { linksCheck } from './links.ts'
import { pathsCheck } from './paths.ts'
import { PG_CHECKS } from './postgres.ts'
import { recordsCheck } from './records.ts'
import { singletonsCheck } from './singletons.ts'
import { syncDriftCheck } from './sync-drift.ts'
import type { Check } from './types.ts'

export const CHECKS: readonly Check[] = [
  linksCheck,
  latencyCheck,
  clockSkewCheck,
  pathsCheck,
  identicalFilesCheck,
  syncDriftCheck,
  recordsCheck,
  floatingIpCheck,
  singletonsCheck,
  ...PG_CHECKS,
  backupsCheck,
  archivingCheck,
  errorLogCheck,
]

export const checkNames = () => CHECKS.map((c) => c.name)

/** The checks named (all when none), in registry order; an unknown name is bad input. */
export function selectChecks(names: string[]): Check[] {
  const wanted = names
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean)
  const unknown = wanted.filter((n) => !CHECKS.some((c) => c.name === n))
  if (unknown.length) throw new InputError(`unknown check${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (checks: ${checkNames().join(', ')})`)
  return wanted.length ? CHECKS.filter((c) => wanted.includes(c.name)) : [...CHECKS]
}

/** Declaration problems of the selected checks, for every pair, before anything is touched. */
export function validateChecks(checks: Check[], pairs: Pair[]): void {
  const problems = pairs.flatMap((p) => checks.flatMap((c) => (c.validate?.(p) ?? []).map((m) => `pair ${p.name}: ${m}`)))
  if (problems.length) throw new InputError(problems.join('\n'), problems)
}
