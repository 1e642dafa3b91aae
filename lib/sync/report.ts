// The run as text for a person. Pure, tested on its own; --json prints the report object instead.
import type { ItemResult, SyncReport } from './types.ts'

export function bytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n, u = -1
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++ }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`

function line(r: ItemResult, w: { item: number; target: number }): string {
  const head = `  ${r.item.padEnd(w.item)}  -> ${r.target.padEnd(w.target)}  ${r.transport.padEnd(5)}  ${r.outcome.toUpperCase().padEnd(7)}`
  const counts = `${r.files} files: ${r.sent} sent, ${r.deleted} deleted, ${r.unchanged} unchanged, ${bytes(r.bytes)}, ${secs(r.ms)}`
  switch (r.outcome) {
    case 'ok': case 'dry-run': return `${head}  ${counts}${r.reason ? `  (${r.reason})` : ''}`
    default: return `${head}  ${r.reason ?? ''}`
  }
}

export function formatReport(rep: SyncReport): string {
  const from = rep.activeFrom === 'epoch' ? `active, epoch ${rep.epoch}` : 'active: the inventory primary, no failover recorded'
  const out = [`${rep.dryRun ? 'dry run: ' : ''}${rep.bootstrap ? 'bootstrap' : 'sync'} pair ${rep.pair} from ${rep.source} (${from}) to ${rep.targets.join(', ')}`]
  for (const t of rep.pinned) out.push(`  pinned ${t}'s host key on ${rep.source} (from the controller's known_hosts)`)
  const w = { item: Math.max(4, ...rep.results.map((r) => r.item.length)), target: Math.max(4, ...rep.results.map((r) => r.target.length)) }
  for (const r of rep.results) {
    out.push(line(r, w))
    for (const c of r.changes ?? []) out.push(`      ${c}`)
  }
  if (!rep.dryRun) {
    if (rep.degraded) {
      const pend = Object.entries(rep.degraded.pending).map(([t, items]) => `${t} lacks ${items.join(', ')}`).join('; ')
      out.push(`DEGRADED since ${rep.degraded.since}: ${pend}. The changes are held on ${rep.source} and go out with the next sync that reaches them.`)
    } else out.push('in sync: nothing pending')
  }
  out.push(`(${secs(rep.ms)}, exit ${rep.exitCode})`)
  return out.join('\n')
}
