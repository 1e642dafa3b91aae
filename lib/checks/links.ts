// Seed 001: "verify that all links to both servers are up"; seed 000: all members reach the
// same networks. From each node: its peers' SSH ports and every declared endpoint.
import { listSome } from '../format.ts'
import { sshSettings } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { perNode } from './node.ts'
import { describeTarget, parseReach, probeArgs, type ProbeResult, type Target } from './reach.ts'
import type { Check, CheckContext, Verdict } from './types.ts'
import { peerAddress } from '../inventory/peer-address.ts'

export function linkTargets(ctx: Pick<CheckContext, 'inv'>, pair: Pair, node: Node): Target[] {
  const peers = pair.nodes
    .filter((n) => n.name !== node.name)
    .map((n) => ({ label: `peer ${n.name}`, host: peerAddress(n), port: sshSettings(ctx.inv, pair, n).port }))
  const endpoints = (pair.preconditions?.endpoints ?? []).map((e) => ({ label: `${e.kind} ${e.name}`, host: e.host, port: e.port }))
  return [...peers, ...endpoints]
}

export function judgeLinks(targets: Target[], results: ProbeResult[], listMax = 5): Verdict {
  const bad = targets.flatMap((t, i) => {
    const r = results[i]
    return r.ok ? [] : [`${describeTarget(t)} (${r.error})`]
  })
  if (bad.length) return { ok: false, detail: `cannot reach ${listSome(bad, listMax)}: check routes, firewalls and the far end` }
  return { ok: true, detail: `reaches ${targets.map((t) => t.label).join(', ')}` }
}

export const linksCheck: Check = {
  name: 'links',
  summary: 'every node reaches its peers (SSH port) and each declared endpoint (TCP, or ping without a port)',
  run: (ctx) =>
    perNode(ctx, 'links', async (node, s) => {
      const targets = linkTargets(ctx, ctx.pair, node)
      if (targets.length === 0) return { ok: true, detail: 'no peers or endpoints to reach' }
      const r = await s.run(probeArgs(targets, 3, 1), { timeoutMs: targets.length * 4000 + 10000 })
      return judgeLinks(targets, parseReach(r.stdout, targets.length), ctx.listMax)
    }),
}
