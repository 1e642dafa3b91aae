// Seed 003: only one live database. Two live copies are two installations, not a redundant
// one. Each singleton must run on the active node and nowhere else; and everything the active
// node serves must answer through the floating IP, the address clients actually use.
import type { Pair, Service } from '../inventory/schema.ts'
import type { NodeSession } from '../ssh.ts'
import { perNode } from './node.ts'
import { runHealthCheck } from './service-probe.ts'
import type { Check, CheckContext, Verdict } from './types.ts'

/** Where clients meet the service: the floating IPs, else the active node's service or admin address. */
export function serviceAddresses(pair: Pair, active: string): string[] {
  if (pair.floatingIps?.length) return pair.floatingIps.map((f) => f.address)
  const n = pair.nodes.find((x) => x.name === active)!
  return [n.serviceAddress ?? n.address]
}

export function judgeSingletons(services: Service[], running: Record<string, boolean>, node: string, active: string): Verdict {
  const bad: string[] = []
  const good: string[] = []
  for (const svc of services) {
    const here = running[svc.name]
    if (node === active && !here) bad.push(`${svc.name} is not running on the active node: start it (${svc.start})`)
    else if (node !== active && here) bad.push(`${svc.name} is running here, but the active node is ${active}: two live writers; stop it here (${svc.stop})`)
    else good.push(`${svc.name} ${here ? 'runs here only' : 'stopped (standby)'}`)
  }
  return bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: good.join(', ') || 'no singleton services' }
}

async function servedThroughAddress(ctx: CheckContext, s: NodeSession): Promise<Verdict> {
  const bad: string[] = []
  const good: string[] = []
  for (const host of serviceAddresses(ctx.pair, ctx.active)) {
    for (const svc of ctx.pair.services ?? []) {
      for (const c of svc.checks) {
        // A command check runs on the node itself: it has no address to go through, once is enough.
        if (c.protocol === 'command' && host !== serviceAddresses(ctx.pair, ctx.active)[0]) continue
        const o = await runHealthCheck(host, c, ctx.active, s)
        ;(o.ok ? good : bad).push(`${svc.name}: ${o.detail}`)
      }
    }
  }
  return bad.length
    ? { ok: false, detail: `does not serve through ${serviceAddresses(ctx.pair, ctx.active).join(', ')}: ${bad.join('; ')}` }
    : { ok: true, detail: good.length ? `${good.length} health check${good.length > 1 ? 's' : ''} answer through ${serviceAddresses(ctx.pair, ctx.active).join(', ')}` : 'no health checks declared' }
}

export const singletonsCheck: Check = {
  name: 'singletons',
  summary: 'each singleton service runs on exactly one node, the active one; every service answers through the floating IP',
  validate: (pair) => (pair.services ?? []).flatMap((svc) => svc.checks.flatMap((c, i) => {
    if (c.protocol !== 'command' && !c.port) return [`services ${svc.name}: checks[${i}] (${c.protocol}) needs a port`]
    if (c.protocol === 'command' && !c.command) return [`services ${svc.name}: checks[${i}] (command) needs a command`]
    return []
  })),
  run: (ctx) => perNode(ctx, 'singletons', async (node, s) => {
    const singles = (ctx.pair.services ?? []).filter((x) => x.singleton)
    const running: Record<string, boolean> = {}
    for (const svc of singles) running[svc.name] = (await s.run({ script: svc.status }, { check: false, timeoutMs: 10_000 })).code === 0
    const own = judgeSingletons(singles, running, node.name, ctx.active)
    if (node.name !== ctx.active) return own
    const served = await servedThroughAddress(ctx, s)
    return { ok: own.ok && served.ok, detail: [own, served].filter((v) => !v.ok).map((v) => v.detail).join('; ') || `${own.detail}; ${served.detail}` }
  }),
}
