// One result line of a verification: what every check and every backup step returns and
// what every report (table, JSON, JUnit, metrics) is made from.
export interface CheckResult {
  pair: string
  node: string
  check: string
  ok: boolean
  /** One line that says what was found and, on failure, what to do. */
  detail: string
  ms: number
}

export const allOk = (results: CheckResult[]) => results.every((r) => r.ok)
