// One measured run, the same for every system: the system is running with node-a active, the
// outside client polls the VIP, the fault hits node-a, and two moments are taken from the fault:
// when the system says it noticed (detection) and when the client first gets node-b (serving).
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import type { LabPlan, NodePlan } from '../../lib/lab/plan.ts'
import type { TestLab } from '../../test/helpers/lab.ts'
import { inject, restoreNode, type Fault } from './faults.ts'
import { firstAnswerFrom, type FirstAnswer } from './poller.ts'
import { sleep } from './proc.ts'

export interface BenchLab {
  testLab: TestLab
  inv: LoadedInventory
  file: string
  plan: LabPlan
  /** The active node the faults hit, and its standby. */
  a: NodePlan
  b: NodePlan
  vip: string
  prefix: number
  log(line: string): void
}

export interface System {
  name: string
  /** Running and steady: node-a serves the VIP, the standby is ready to take over. */
  arm(): Promise<void>
  /** Epoch ms of the system's own "node-a is gone" at or after t0; undefined within limitMs. */
  detected(t0: number, limitMs: number): Promise<number | undefined>
  /** Takeovers the system itself reported since t0 (for the soak). */
  takeovers(t0: number): number
  /**
   * Back to the start: node-a restored (restore() does that; each system calls it when its
   * order needs), node-a active again, the system stopped.
   */
  recover(restore: () => Promise<void>): Promise<void>
  close(): Promise<void>
  /** What the system logged from t0 on, for the raw numbers (ms relative to t0). */
  detail(t0: number): unknown
  /** Waits (bounded) until the system's own account of the takeover is complete, so detail() has it. */
  settled?(t0: number): Promise<void>
}

export interface TakeoverRun {
  /** ms from the fault to detection / to the first answer as node-b; null: not within the limit. */
  detectionMs: number | null
  servingMs: number | null
  /** How long injecting the fault itself took (both figures count from its start). */
  injectMs: number
  detail?: unknown
  /** Why the run could not be measured (counted as missed). */
  error?: string
}

/** A takeover that has not served within this long is counted as missed. */
export const LIMIT_MS = 30_000

/**
 * Faults come at any moment: a fixed delay after arm() would hit every run at the same point of
 * keepalived's 1 s advert cycle (the runs then cluster at two values), so each waits a random
 * part of a second more; that is one whole default cycle, ten tuned ones, fifty hapair probes.
 */
const PHASE_MS = 1000

export async function measureRun(sys: System, lab: BenchLab, fault: Fault): Promise<TakeoverRun> {
  let client: FirstAnswer | undefined
  let out: TakeoverRun
  try {
    // Inside the try: a half-armed system (a watcher that never said "started") is stopped too.
    await sys.arm()
    await sleep(Math.random() * PHASE_MS)
    client = firstAnswerFrom(lab.vip, lab.b.name, LIMIT_MS)
    const t0 = Date.now()
    await inject(lab.inv, fault, lab.a.name)
    const injectMs = Date.now() - t0
    const [served, detected] = await Promise.all([client.first, sys.detected(t0, LIMIT_MS)])
    await sys.settled?.(t0)
    out = { detectionMs: detected === undefined ? null : detected - t0, servingMs: served === undefined ? null : served - t0, injectMs, detail: sys.detail(t0) }
  } finally {
    client?.stop()
    await sys.recover(() => restoreNode(lab.inv, lab.a.name))
  }
  return out
}

export interface Summary {
  n: number
  missed: number
  median: number | null
  p95: number | null
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]

export function summarize(xs: (number | null)[]): Summary {
  const ok = xs.filter((x): x is number => x !== null).sort((a, b) => a - b)
  return { n: xs.length, missed: xs.length - ok.length, median: ok.length ? pct(ok, 50) : null, p95: ok.length ? pct(ok, 95) : null }
}
