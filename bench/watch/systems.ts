// Every system through the same runs, in one lab: N runs of each fault, then the soak.
import { FAULTS, restoreNode, type Fault } from './faults.ts'
import { hapairSystem, watcherMissing } from './hapair.ts'
import { keepalivedSystem, SETUPS, type KeepalivedSetup } from './keepalived.ts'
import type { SystemResult } from './report.ts'
import { soak } from './soak.ts'
import { measureRun, summarize, type BenchLab, type TakeoverRun, type System } from './trial.ts'

export const SYSTEMS = ['hapair', 'keepalived-default', 'keepalived-tuned'] as const
export type SystemName = (typeof SYSTEMS)[number]

export interface RunPlan {
  faults: readonly Fault[]
  runs: number
  soakS: number
  unicast: boolean
  /** --baseline CHECKOUT: that checkout's watcher as one more system, "baseline". */
  baseline?: string
}

function make(name: SystemName | 'baseline', lab: BenchLab, plan: RunPlan): System | string {
  if (name === 'hapair') return watcherMissing() ?? hapairSystem(lab)
  if (name === 'baseline') return watcherMissing(plan.baseline) ?? hapairSystem(lab, plan.baseline)
  return keepalivedSystem(lab, name as KeepalivedSetup, { unicast: plan.unicast })
}

const fmt = (v: number | null) => (v === null ? 'missed' : `${v} ms`)

export async function runSystem(name: SystemName | 'baseline', lab: BenchLab, plan: RunPlan): Promise<SystemResult> {
  const sys = make(name, lab, plan)
  if (typeof sys === 'string') {
    lab.log(`${name}: skipped: ${sys}`)
    return { skipped: sys, faults: {} }
  }
  const out: SystemResult = { faults: {} }
  try {
    // Whatever the system before left (a failed run), each starts from node-a up and plugged in.
    await restoreNode(lab.inv, lab.a.name)
    for (const fault of plan.faults) {
      const runs: TakeoverRun[] = []
      let failedInARow = 0
      // Kept current after every run, so a system that fails later still reports what it measured.
      const keep = () => {
        out.faults[fault] = { runs, detectionMs: summarize(runs.map((r) => r.detectionMs)), servingMs: summarize(runs.map((r) => r.servingMs)) }
      }
      for (let i = 0; i < plan.runs; i++) {
        const at = `${name} ${fault} ${i + 1}/${plan.runs}`
        try {
          const r = await measureRun(sys, lab, fault)
          runs.push(r)
          keep()
          failedInARow = 0
          lab.log(`${at}: detection ${fmt(r.detectionMs)}, fault->serving ${fmt(r.servingMs)} (fault injected in ${r.injectMs} ms)`)
        } catch (e) {
          // One bad run (a daemon that would not start) is a missed run; two in a row mean the
          // setup is broken and more runs would only repeat it.
          runs.push({ detectionMs: null, servingMs: null, injectMs: 0, error: (e as Error).message })
          keep()
          lab.log(`${at}: failed: ${(e as Error).message}`)
          if (++failedInARow >= 2) throw e
        }
      }
    }
    if (plan.soakS > 0) {
      lab.log(`${name}: soak, ${plan.soakS} s of 20% loss on ${lab.a.name}'s link`)
      out.soak = await soak(sys, lab, plan.soakS)
      lab.log(`${name} soak: ${out.soak.takeovers} takeovers, ${out.soak.twoHolders} two-holder episodes (${out.soak.twoHoldersMs} ms)`)
    }
  } catch (e) {
    out.error = (e as Error).message
    lab.log(`${name}: failed: ${out.error}`)
  } finally {
    await sys.close()
  }
  return out
}

export function parseList<T extends string>(what: string, raw: string, known: readonly T[]): T[] {
  const xs = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = xs.filter((x) => !known.includes(x as T))
  if (bad.length || !xs.length) throw new Error(`--${what}: unknown ${bad.join(', ') || '(empty)'} (known: ${known.join(', ')})`)
  return xs as T[]
}

export { FAULTS, SETUPS }
