// The run as text for a person. Pure, tested on its own; --json prints the report object instead.
import type { ItemResult, SyncReport } from './types.ts'
import { siBytes } from '../format.ts'

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`

/** A dry run lists this many of each item's changes; --verbose lists them all. */
export const DRY_RUN_PATHS = 20

/** What a dry run would move: rsync reports no file data for a dry run, so dryRunBytes carries it. */
const wouldSend = (r: ItemResult) => r.dryRunBytes ?? r.bytes

function line(r: ItemResult, w: { item: number; target: number }): string {
  const head = `  ${r.item.padEnd(w.item)}  -> ${r.target.padEnd(w.target)}  ${r.transport.padEnd(5)}  ${r.outcome.toUpperCase().padEnd(7)}`
  const counts =
    r.outcome === 'dry-run'
      ? `${r.files} files: would send ${r.sent} files (${siBytes(wouldSend(r))}), delete ${r.deleted}, ${r.unchanged} unchanged, ${secs(r.ms)}`
      : `${r.files} files: ${r.sent} sent, ${r.deleted} deleted, ${r.unchanged} unchanged, ${siBytes(r.bytes)}, ${secs(r.ms)}`
  switch (r.outcome) {
    case 'ok':
    case 'dry-run':
      return `${head}  ${counts}${r.reason ? `  (${r.reason})` : ''}`
    default:
      return `${head}  ${r.reason ?? ''}`
  }
}

/** The report as --json prints it: the run's data, without what only the text report uses. */
export function jsonReport(value: unknown): string {
  return JSON.stringify(value, (k, v) => (k === 'dryRunBytes' ? undefined : v), 2)
}

/** verbose: a dry run lists every change, not the first DRY_RUN_PATHS of each item and target. */
export function formatReport(rep: SyncReport, o: { verbose?: boolean } = {}): string {
  const from = rep.activeFrom === 'epoch' ? `active, epoch ${rep.epoch}` : 'active: the inventory primary, no failover recorded'
  const out = [
    `${rep.dryRun ? 'dry run: ' : ''}${rep.bootstrap ? 'bootstrap' : 'sync'} pair ${rep.pair} from ${rep.source} (${from}) to ${rep.targets.join(', ')}`,
  ]
  for (const t of rep.pinned) out.push(`  pinned ${t}'s host key on ${rep.source} (from the controller's known_hosts)`)
  const w = { item: Math.max(4, ...rep.results.map((r) => r.item.length)), target: Math.max(4, ...rep.results.map((r) => r.target.length)) }
  for (const r of rep.results) {
    out.push(line(r, w))
    const changes = r.changes ?? []
    const shown = o.verbose ? changes : changes.slice(0, DRY_RUN_PATHS)
    for (const c of shown) out.push(`      ${c}`)
    if (shown.length < changes.length) out.push(`      ... ${changes.length - shown.length} more changes (--verbose lists them all)`)
  }
  if (rep.dryRun) {
    const dry = rep.results.filter((r) => r.outcome === 'dry-run')
    const sum = (f: (r: ItemResult) => number) => dry.reduce((n, r) => n + f(r), 0)
    if (dry.length > 1)
      out.push(
        `would send ${sum((r) => r.sent)} files (${siBytes(sum(wouldSend))}) and delete ${sum((r) => r.deleted)} in all (${dry.length} items and targets)`,
      )
  } else {
    if (rep.degraded) {
      const pend = Object.entries(rep.degraded.pending)
        .map(([t, items]) => `${t} lacks ${items.join(', ')}`)
        .join('; ')
      out.push(`DEGRADED since ${rep.degraded.since}: ${pend}. The changes are held on ${rep.source} and go out with the next sync that reaches them.`)
    } else out.push('in sync: nothing pending')
  }
  out.push(`(${secs(rep.ms)}, exit ${rep.exitCode})`)
  return out.join('\n')
}
