// Per-node plumbing every check shares: run one function per reachable node in parallel,
// time it, and turn a node that stops answering halfway into a failed result, not a crash.
import type { Node } from '../inventory/schema.ts'
import type { NodeSession } from '../ssh.ts'
import type { CheckContext, CheckResult, Verdict } from './types.ts'
import { failureDetail } from '../outcome.ts'

export async function perNode(ctx: CheckContext, check: string, fn: (node: Node, s: NodeSession) => Promise<Verdict>): Promise<CheckResult[]> {
  return Promise.all(
    ctx.reachable.map(async (node) => {
      const started = performance.now()
      let v: Verdict
      try {
        v = await fn(node, ctx.pool.session(ctx.pair, node))
      } catch (e) {
        v = { ok: false, detail: failureDetail(e) }
      }
      return { pair: ctx.pair.name, node: node.name, check, ok: v.ok, detail: v.detail, ms: performance.now() - started }
    }),
  )
}

/** Joins per-item verdicts: ok only if all are; failures first in the detail. */
export function combine(parts: (Verdict & { label?: string })[], empty: string): Verdict {
  if (parts.length === 0) return { ok: true, detail: empty }
  const bad = parts.filter((p) => !p.ok)
  const shown = bad.length ? bad : parts
  return { ok: bad.length === 0, detail: shown.map((p) => (p.label ? `${p.label}: ${p.detail}` : p.detail)).join('; ') }
}
