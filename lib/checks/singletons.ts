// The rule of one live database: Two live copies are two installations, not a redundant
// one. Each singleton must run on the active node and nowhere else; and everything the active
// node serves must answer through the floating IP, the address clients actually use.
import type { Pair, Service } from '../inventory/schema.ts'
import { isRunning } from '../services.ts'
import { perNode } from './node.ts'
import { runServiceChecks } from './service-probe.ts'
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

async function servedThroughAddress(ctx: CheckContext): Promise<Verdict> {
  const addresses = serviceAddresses(ctx.pair, ctx.active)
  const r = await runServiceChecks(ctx.pool, ctx.pair, { node: ctx.active, addresses })
  const n = r.passed.length
  return r.ok
    ? { ok: true, detail: n ? `${n} health check${n > 1 ? 's' : ''} answer through ${addresses.join(', ')}` : 'no health checks declared' }
    : { ok: false, detail: `does not serve through ${addresses.join(', ')}: ${r.failures.join('; ')}` }
}

export const singletonsCheck: Check = {
  name: 'singletons',
  summary: 'each singleton service runs on exactly one node, the active one; every service answers through the floating IP',
  validate: (pair) =>
    (pair.services ?? []).flatMap((svc) =>
      svc.checks.flatMap((c, i) => {
        if (c.protocol !== 'command' && !c.port) return [`services ${svc.name}: checks[${i}] (${c.protocol}) needs a port`]
        if (c.protocol === 'command' && !c.command) return [`services ${svc.name}: checks[${i}] (command) needs a command`]
        return []
      }),
    ),
  run: (ctx) =>
    perNode(ctx, 'singletons', async (node, s) => {
      const singles = (ctx.pair.services ?? []).filter((x) => x.singleton)
      const running: Record<string, boolean> = {}
      // isRunning: a PostgreSQL singleton runs where it is the primary; a streaming standby runs
      // too and is not a second writer (it read as one on every healthy PostgreSQL pair).
      for (const svc of singles) running[svc.name] = await isRunning(s, svc)
      const own = judgeSingletons(singles, running, node.name, ctx.active)
      if (node.name !== ctx.active) return own
      const served = await servedThroughAddress(ctx)
      return {
        ok: own.ok && served.ok,
        detail:
          [own, served]
            .filter((v) => !v.ok)
            .map((v) => v.detail)
            .join('; ') || `${own.detail}; ${served.detail}`,
      }
    }),
}
