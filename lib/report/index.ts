// What both playbooks do with their results: print a table (or JSON) and write the files asked for.
import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.ts'
import { formatJson } from './json.ts'
import { formatJunit } from './junit.ts'
import { formatMetrics, parseLastSuccess } from './metrics.ts'
import { formatTable } from './table.ts'
import type { CheckResult } from './types.ts'
import { readIfExists, writeFileAtomic } from './write.ts'

export type { CheckResult } from './types.ts'

export interface ReportOptions {
  json?: boolean
  junit?: string
  metrics?: string
  /** 'verify' or 'backup-verify': the JUnit suite name and the metrics' playbook label. */
  playbook: string
  /** The pairs the run covered: each gets its run-level metrics even without a result. */
  pairs?: string[]
}

/** Fails before any check runs when a report could not be written afterwards (exit 2, nothing touched). */
export function checkReportTargets(opts: ReportOptions): void {
  for (const [flag, file] of [
    ['--junit', opts.junit],
    ['--metrics', opts.metrics],
  ] as const) {
    if (file === undefined) continue
    if (file === '' || (file as unknown) === true) throw new InputError(`${flag} needs a file name`)
    const dir = path.dirname(path.resolve(file))
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory')
      accessSync(dir, constants.W_OK)
    } catch (e) {
      throw new InputError(`${flag} ${file}: directory ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
    }
  }
}

export function emitReports(results: CheckResult[], opts: ReportOptions, now = new Date()): string {
  if (opts.junit) writeFileAtomic(opts.junit, formatJunit(results, { name: `hapair ${opts.playbook}`, timestamp: now }))
  if (opts.metrics) {
    const previous = parseLastSuccess(readIfExists(opts.metrics))
    writeFileAtomic(opts.metrics, formatMetrics(results, { playbook: opts.playbook, now, previous, pairs: opts.pairs }))
  }
  return opts.json ? formatJson(results) : formatTable(results, { title: opts.playbook === 'verify' ? undefined : opts.playbook }) + '\n'
}
