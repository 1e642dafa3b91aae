// The side-by-side tables; pure, so what is printed is exactly what the JSON holds.
import type { Fault } from './faults.ts'
import type { SoakResult } from './soak.ts'
import type { TakeoverRun, Summary } from './trial.ts'

export interface FaultResult {
  runs: TakeoverRun[]
  detectionMs: Summary
  servingMs: Summary
}
export interface SystemResult {
  skipped?: string
  error?: string
  faults: Partial<Record<Fault, FaultResult>>
  soak?: SoakResult
}

/** The whole message is in the JSON; a table row gets its start. */
const short = (s: string) => (s.length > 100 ? `${s.slice(0, 97)}...` : s)
const cell = (v: number | null | undefined, w: number) => (v === null || v === undefined ? '-' : String(Math.round(v))).padStart(w)

export function faultTable(results: Record<string, SystemResult>, faults: readonly Fault[]): string {
  const names = Object.keys(results)
  const sw = Math.max(6, ...names.map((n) => n.length))
  const head = `${'fault'.padEnd(6)} ${'system'.padEnd(sw)}  ${'detection ms'.padStart(15)}  ${'fault->serving ms'.padStart(17)}  runs missed`
  const sub = `${''.padEnd(6)} ${''.padEnd(sw)}  ${'median'.padStart(7)} ${'p95'.padStart(7)}  ${'median'.padStart(8)} ${'p95'.padStart(8)}`
  const lines = [head, sub]
  for (const f of faults) {
    for (const n of names) {
      const r = results[n]
      const fr = r.faults[f]
      const pre = `${f.padEnd(6)} ${n.padEnd(sw)}  `
      if (!fr) {
        lines.push(pre + short(r.skipped ? `skipped: ${r.skipped}` : r.error ? `failed: ${r.error}` : 'not run'))
        continue
      }
      const missed = Math.max(fr.detectionMs.missed, fr.servingMs.missed)
      lines.push(
        pre +
          `${cell(fr.detectionMs.median, 7)} ${cell(fr.detectionMs.p95, 7)}  ${cell(fr.servingMs.median, 8)} ${cell(fr.servingMs.p95, 8)}  ${String(fr.servingMs.n).padStart(4)} ${String(missed).padStart(6)}`,
      )
    }
  }
  return lines.join('\n')
}

export function soakTable(results: Record<string, SystemResult>): string | undefined {
  const rows = Object.entries(results).filter(([, r]) => r.soak || r.skipped || r.error)
  if (!rows.some(([, r]) => r.soak)) return undefined
  const first = rows.find(([, r]) => r.soak)![1].soak!
  const sw = Math.max(6, ...rows.map(([n]) => n.length))
  const lines = [
    `soak: ${first.lossPercent}% random loss on node-a's link, both directions, ${first.seconds} s`,
    `${'system'.padEnd(sw)}  takeovers  standby-gains  two-holders  two-holder-ms total/max  other-violations  samples  max-gap-ms`,
  ]
  for (const [n, r] of rows) {
    const s = r.soak
    if (!s) {
      lines.push(`${n.padEnd(sw)}  ${short(r.skipped ? `skipped: ${r.skipped}` : `failed: ${r.error}`)}`)
      continue
    }
    lines.push(
      `${n.padEnd(sw)}  ${String(s.takeovers).padStart(9)}  ${String(s.standbyGains).padStart(13)}  ${String(s.twoHolders).padStart(11)}  ${`${s.twoHoldersMs}/${s.twoHoldersMaxMs}`.padStart(23)}  ${String(s.otherViolations.length).padStart(16)}  ${String(s.samples).padStart(7)}  ${String(s.maxGapMs).padStart(10)}`,
    )
  }
  return lines.join('\n')
}
