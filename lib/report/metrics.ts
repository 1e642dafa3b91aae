// Prometheus text exposition for node_exporter's textfile collector. Every file that names a
// metric must carry the same HELP and TYPE lines, or node_exporter drops all but one file's
// samples (prometheus/node_exporter#1885), so these texts are constants shared by both playbooks.
import type { CheckResult } from './types.ts'

export const METRICS = {
  ok: { name: 'hapair_check_ok', help: '1 when the check passed on its last run, 0 when it failed.' },
  duration: { name: 'hapair_check_duration_seconds', help: 'Wall time of the check on its last run.' },
  lastSuccess: {
    name: 'hapair_check_last_success_timestamp_seconds',
    help: 'Unix time the check last passed; 0 when it has not passed since this file was started.',
  },
  runOk: { name: 'hapair_run_ok', help: '1 when every check of the playbook passed on its last run.' },
  runAt: { name: 'hapair_run_timestamp_seconds', help: 'Unix time the playbook last finished.' },
} as const

export const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const labels = (l: Record<string, string>) =>
  '{' +
  Object.entries(l)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',') +
  '}'
const key = (pair: string, node: string, check: string) => JSON.stringify([pair, node, check])

/** Reads the last-success times from the previous file, so a failing check keeps reporting when it last passed. */
export function parseLastSuccess(text: string): Map<string, number> {
  const out = new Map<string, number>()
  const line = new RegExp(`^${METRICS.lastSuccess.name}\\{(.*)\\}\\s+(\\S+)`)
  for (const l of text.split('\n')) {
    const m = line.exec(l)
    if (!m) continue
    const lab: Record<string, string> = {}
    for (const x of m[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) lab[x[1]] = x[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
    const v = Number(m[2])
    if (lab.pair !== undefined && lab.node !== undefined && lab.check !== undefined && Number.isFinite(v)) out.set(key(lab.pair, lab.node, lab.check), v)
  }
  return out
}

export interface MetricsOptions {
  /** Which playbook wrote the file: its label on the run-level metrics. */
  playbook: string
  now: Date
  /** parseLastSuccess() of the file being replaced. */
  previous?: Map<string, number>
  /** The pairs the run covered (default: those in the results): one run-level series each. */
  pairs?: string[]
}

export function formatMetrics(results: CheckResult[], opts: MetricsOptions): string {
  const now = Math.floor(opts.now.getTime() / 1000)
  const out: string[] = []
  const family = (m: { name: string; help: string }, samples: string[]) => {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`, ...samples)
  }
  const l = (r: CheckResult) => labels({ pair: r.pair, node: r.node, check: r.check })
  family(
    METRICS.ok,
    results.map((r) => `${METRICS.ok.name}${l(r)} ${r.ok ? 1 : 0}`),
  )
  family(
    METRICS.duration,
    results.map((r) => `${METRICS.duration.name}${l(r)} ${(r.ms / 1000).toFixed(3)}`),
  )
  family(
    METRICS.lastSuccess,
    results.map((r) => {
      const t = r.ok ? now : (opts.previous?.get(key(r.pair, r.node, r.check)) ?? 0)
      return `${METRICS.lastSuccess.name}${l(r)} ${t}`
    }),
  )
  // Per pair, like every other series: two per-pair files (verify --pair a, --pair b) in one
  // textfile directory would otherwise both say hapair_run_ok{playbook="verify"}, and node_exporter
  // refuses a series collected twice.
  const pairs = [...new Set([...(opts.pairs ?? []), ...results.map((r) => r.pair)])]
  const run = (pair: string) => labels({ playbook: opts.playbook, pair })
  family(
    METRICS.runOk,
    pairs.map((p) => `${METRICS.runOk.name}${run(p)} ${results.every((r) => r.pair !== p || r.ok) ? 1 : 0}`),
  )
  family(
    METRICS.runAt,
    pairs.map((p) => `${METRICS.runAt.name}${run(p)} ${now}`),
  )
  return out.join('\n') + '\n'
}
