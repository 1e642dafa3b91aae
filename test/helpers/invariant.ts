// Invariants of a pair, sampled every ~10 ms straight from the kernel while a test runs faults
// and failovers: no floating IP on two nodes at once, no singleton service on two nodes of its
// pair. A split brain that lasts 50 ms is invisible to a test that only looks at the end.
//
//   const inv = startInvariant(lab)
//   await inv.ready
//   … faults, failovers …
//   const r = await inv.stop()
//   assert.equal(r.violations, [])
//
// Reading is cheap enough for 10 ms on a shared 2-core machine: no process is spawned per
// sample, nothing enters a node's namespace (the worker reads /proc/<holder>/net/fib_trie and the
// lab's pid files), and it runs on a worker thread, so a blocked test event loop opens no gaps.
import { Worker } from 'node:worker_threads'
import path from 'node:path'
import { labPlan } from '../../lib/lab/plan.ts'
import { nodePaths } from '../../lib/lab/node.ts'
import type { TestLab } from './lab.ts'

export interface Violation {
  /** Since start, of the first sample that saw it. */
  atMs: number
  what: string
  /** First sample that no longer saw it; absent while it lasted until stop. */
  untilMs?: number
  /** How many samples saw it. */
  samples: number
}

export interface InvariantReport {
  samples: number
  violations: Violation[]
  /** Longest time between two samples (the blind spot). */
  maxGapMs: number
  /** Longest single sample, and the mean. */
  maxSampleMs: number
  meanSampleMs: number
  durationMs: number
  /** CPU the sampler's thread used (10 ms resolution). */
  cpuMs: number
}

export interface InvariantSampler {
  /** Resolves once the first sample is taken. */
  ready: Promise<void>
  stop(): Promise<InvariantReport>
}

export function startInvariant(lab: TestLab, opts: { intervalMs?: number } = {}): InvariantSampler {
  const plan = labPlan(lab.inv)
  const invariant = {
    intervalMs: opts.intervalMs ?? 10,
    floating: [...new Set(plan.floating.map((f) => f.address))],
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      pair: n.pair,
      nsFile: `/run/netns/${n.ns}`,
      holderPidFile: nodePaths(n).holderPid,
      singletons: n.services.filter((s) => s.singleton).map((s) => ({ name: s.name, pidFile: path.join(nodePaths(n).labDir, 'run', `${s.name}.pid`) })),
    })),
  }
  // No tsx in the worker: it is plain JavaScript, and tsx would cost its startup for nothing.
  const worker = new Worker(new URL('./invariant-worker.mjs', import.meta.url), { workerData: { invariant }, execArgv: [] })
  // A test that never calls stop must not hang its process.
  worker.unref()
  let failed: Error | undefined
  let onReport: ((r: InvariantReport) => void) | undefined
  let onFail: ((e: Error) => void) | undefined
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean; report?: InvariantReport }) => {
      if (m.ready) resolve()
      if (m.report) onReport?.(m.report)
    })
    worker.on('error', (e) => {
      failed = e
      reject(e)
      onFail?.(e)
    })
    worker.on('exit', (code) => {
      const e = new Error(`invariant sampler exited (code ${code}) before reporting`)
      reject(e)
      onFail?.(e)
    })
  })
  ready.catch(() => {}) // reported by stop() too
  let stopped: Promise<InvariantReport> | undefined
  return {
    ready,
    stop() {
      if (failed) return Promise.reject(failed)
      stopped ??= new Promise<InvariantReport>((resolve, reject) => {
        onReport = (r) => {
          onFail = undefined
          resolve(r)
          void worker.terminate()
        }
        onFail = reject
        worker.postMessage('stop')
      })
      return stopped
    },
  }
}
