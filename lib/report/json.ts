// The machine-readable report: { ok, checks: [ { pair, node, check, ok, detail, ms } ] }.
// Keys are fixed and listed explicitly so an extra field on a result never leaks into the contract.
import type { CheckResult } from './types.ts'

export interface JsonReport {
  ok: boolean
  checks: CheckResult[]
}

export function toJsonReport(results: CheckResult[]): JsonReport {
  return {
    ok: results.every((r) => r.ok),
    checks: results.map(({ pair, node, check, ok, detail, ms }) => ({ pair, node, check, ok, detail, ms: Math.round(ms) })),
  }
}

export function formatJson(results: CheckResult[]): string {
  return JSON.stringify(toJsonReport(results), null, 2) + '\n'
}
