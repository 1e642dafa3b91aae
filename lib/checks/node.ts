// Per-node plumbing every check shares: run one function per reachable node in parallel,
// time it, and turn a node that stops answering halfway into a failed result, not a crash.
import { HapairError, RemoteError, withHint } from '../errors.ts'
import type { Node } from '../inventory/schema.ts'
import type { NodeSession } from '../ssh.ts'
import type { CheckContext, CheckResult, Verdict } from './types.ts'

/** Remote commands that read whole trees or archives get far longer than the inventory's per-command default. */
export const LONG_TIMEOUT_MS = 4 * 60 * 60 * 1000

export function failureDetail(e: unknown): string {
  if (e instanceof RemoteError && e.notAsked) return `unreachable: ${withHint(e)}`
  if (e instanceof HapairError) return `error: ${e.message}`
  throw e
}

export async function perNode(ctx: CheckContext, check: string, fn: (node: Node, s: NodeSession) => Promise<Verdict>): Promise<CheckResult[]> {
  return Promise.all(ctx.reachable.map(async (node) => {
    const started = performance.now()
    let v: Verdict
    try {
      v = await fn(node, ctx.pool.session(ctx.pair, node))
    } catch (e) {
      v = { ok: false, detail: failureDetail(e) }
    }
    return { pair: ctx.pair.name, node: node.name, check, ok: v.ok, detail: v.detail, ms: performance.now() - started }
  }))
}

/** "a, b, c and 4 more" */
export function listSome(items: string[], max: number): string {
  if (items.length <= max) return items.join(', ')
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`
}

/** Joins per-item verdicts: ok only if all are; failures first in the detail. */
export function combine(parts: (Verdict & { label?: string })[], empty: string): Verdict {
  if (parts.length === 0) return { ok: true, detail: empty }
  const bad = parts.filter((p) => !p.ok)
  const shown = bad.length ? bad : parts
  return { ok: bad.length === 0, detail: shown.map((p) => (p.label ? `${p.label}: ${p.detail}` : p.detail)).join('; ') }
}

export function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 90) return `${s} s`
  if (s < 90 * 60) return `${Math.round(s / 60)} min`
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`
  return `${(s / 86400).toFixed(1)} days`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export const isoSeconds = (epochSeconds: number) => new Date(Math.round(epochSeconds * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z')
