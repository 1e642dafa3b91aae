// A failover or failback run as a person reads it, and the object --json prints instead.
import { playbookCommand } from '../hint.ts'
import type { FailoverResult, StepResult } from './run.ts'

export function formatStep(s: StepResult): string {
  return `${!s.ok ? 'FAIL' : s.warning ? 'WARN' : 'ok  '} ${s.name.padEnd(15)} ${String(s.ms).padStart(6)} ms  ${s.detail}`
}

export function formatResult(r: FailoverResult): string {
  const warn = r.warnings.map((w) => `warning: ${w}`)
  if (r.dryRun && r.noop) return [`dry run: nothing to do: ${r.plan[0]?.replace(/^.*?: /, '') ?? ''}`, ...warn].join('\n')
  if (r.dryRun) return ['dry run: nothing was changed. The plan:', ...r.plan.map((l) => `  ${l}`)].join('\n')
  if (r.noop) return [`${r.operation}: nothing to do: ${r.active} is already active (epoch ${r.epoch}) and serving`, ...warn].join('\n')
  const head = r.ok
    ? `${r.operation} done: ${r.active} is active (epoch ${r.epoch})${r.resumed ? ', resumed an interrupted run' : ''}; RTO ${r.rtoMs ?? '-'} ms, total ${r.totalMs} ms`
    : `${r.operation} FAILED after ${r.totalMs} ms: ${r.error}\nrun \`${playbookCommand('status', ['--pair', r.pair])}\` to see the pair; re-running ${r.operation} finishes or safely redoes the job (README: failure states)`
  return [head, ...warn].join('\n')
}

/** The plan only for a dry run, the error only when there is one: a script tests for the key. */
export function jsonResult(r: FailoverResult): object {
  return {
    pair: r.pair,
    operation: r.operation,
    from: r.from,
    to: r.to,
    steps: r.steps.map(({ name, ok, ms, detail }) => ({ name, ok, ms, detail })),
    rtoMs: r.rtoMs,
    totalMs: r.totalMs,
    active: r.active,
    epoch: r.epoch,
    ok: r.ok,
    noop: r.noop,
    resumed: r.resumed,
    dryRun: r.dryRun,
    warnings: r.warnings,
    ...(r.dryRun ? { plan: r.plan } : {}),
    ...(r.error ? { error: r.error } : {}),
  }
}
