// Seed 004: clients reach the service through an address that follows the active server.
// Each address must be held by exactly one node, the active one. Judged per node, so the
// report names the node that is wrong: the one holding an address it should not, or the
// active one missing it.
import { ipDriver } from '../drivers/index.ts'
import type { HoldState } from '../drivers/types.ts'
import type { CheckResult, Check, Verdict } from './types.ts'

export interface FipState {
  address: string
  holds: Record<string, HoldState>
}

export function judgeFloatingIps(fips: FipState[], active: string, node: string): Verdict {
  if (fips.length === 0) return { ok: true, detail: 'no floating IPs declared' }
  const bad: string[] = []
  const good: string[] = []
  for (const f of fips) {
    const holders = Object.entries(f.holds)
      .filter(([, v]) => v === 'held')
      .map(([k]) => k)
    const mine = f.holds[node]
    if (mine === 'unknown') {
      bad.push(`${f.address}: cannot tell whether this node holds it`)
      continue
    }
    if (node === active) {
      if (mine === 'held')
        good.push(holders.length > 1 ? `holds ${f.address} (also held by ${holders.filter((h) => h !== node).join(', ')})` : `holds ${f.address}`)
      else
        bad.push(
          `${f.address} is not here on the active node (held by ${holders.length ? holders.join(', ') : 'no node'}): run the failover playbook to bring it here`,
        )
    } else if (mine === 'held') {
      bad.push(
        `holds ${f.address}, but the active node is ${active}${holders.length > 1 ? ` (held by ${holders.join(' and ')}: clients reach either)` : ''}: release it here`,
      )
    } else {
      good.push(`${f.address} not here (standby)`)
    }
  }
  return bad.length ? { ok: false, detail: bad.join('; ') } : { ok: true, detail: good.join('; ') }
}

export const floatingIpCheck: Check = {
  name: 'floating-ip',
  summary: 'each floating IP is held by exactly one node, and it is the active node',
  run: async (ctx) => {
    const started = performance.now()
    const fips: FipState[] = []
    for (const fip of ctx.pair.floatingIps ?? []) {
      const holds = await ipDriver(fip, { inv: ctx.inv, pair: ctx.pair, pool: ctx.pool }).status()
      fips.push({ address: fip.address, holds })
    }
    const ms = performance.now() - started
    return ctx.reachable.map((n): CheckResult => ({
      pair: ctx.pair.name,
      node: n.name,
      check: 'floating-ip',
      ...judgeFloatingIps(fips, ctx.active, n.name),
      ms,
    }))
  },
}
