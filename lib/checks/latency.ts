// Seed 003: "low latency (under 10 ms) to the database". Median of three TCP connects (one
// SYN/SYN-ACK round trip each), or ping's average where no port is declared.
import type { Endpoint, Pair } from '../inventory/schema.ts'
import { perNode } from './node.ts'
import { describeTarget, parseReach, probeArgs, type ProbeResult } from './reach.ts'
import type { Check, Verdict } from './types.ts'

export const latencyLimit = (pair: Pair, e: Endpoint) => e.maxLatencyMs ?? pair.preconditions?.maxLatencyMs ?? 10
const fmt = (ms: number) => (ms < 1 ? ms.toFixed(2) : ms < 10 ? ms.toFixed(1) : ms.toFixed(0))

export function judgeLatency(pair: Pair, endpoints: Endpoint[], results: ProbeResult[]): Verdict {
  const bad: string[] = []
  const good: string[] = []
  endpoints.forEach((e, i) => {
    const r = results[i]
    const max = latencyLimit(pair, e)
    const t = describeTarget({ label: e.name, host: e.host, port: e.port })
    if (!r.ok) bad.push(`cannot measure ${t}: ${r.error}`)
    else if (r.ms > max) bad.push(`${t} ${fmt(r.ms)} ms > ${max} ms: move the node closer or fix the path`)
    else good.push(`${e.name} ${fmt(r.ms)} ms (max ${max})`)
  })
  return bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: good.join(', ') }
}

export const latencyCheck: Check = {
  name: 'latency',
  summary: 'round trip from each node to each declared endpoint is within its maxLatencyMs (default preconditions.maxLatencyMs, 10)',
  run: (ctx) =>
    perNode(ctx, 'latency', async (_node, s) => {
      const endpoints = ctx.pair.preconditions?.endpoints ?? []
      if (endpoints.length === 0) return { ok: true, detail: 'no endpoints declared (preconditions.endpoints)' }
      const targets = endpoints.map((e) => ({ label: e.name, host: e.host, port: e.port }))
      const r = await s.run(probeArgs(targets, 2, 3), { timeoutMs: targets.length * 8000 + 10000 })
      return judgeLatency(ctx.pair, endpoints, parseReach(r.stdout, targets.length))
    }),
}
