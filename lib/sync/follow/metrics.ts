// The follower's numbers in Prometheus' text format, on an optional HTTP port: how far behind
// each target is, how much it owes, what was shipped. Rendering is pure; serve() is the I/O.
import http from 'node:http'

export interface TargetNumbers {
  target: string
  /** Seconds since the oldest change the target has not confirmed (0: caught up). */
  lagSeconds: number
  pendingPaths: number
  up: boolean
  bytesShipped: number
  filesShipped: number
  filesDeleted: number
  batches: number
  fullPasses: number
}

export interface FollowNumbers {
  pair: string
  source: string
  events: number
  overflows: number
  targets: TargetNumbers[]
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

export function renderMetrics(all: FollowNumbers[]): string {
  const out: string[] = []
  const family = (name: string, type: 'gauge' | 'counter', help: string, rows: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, v] of rows) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${esc(x)}"`)
        .join(',')
      out.push(`${name}{${l}} ${Number.isFinite(v) ? v : 0}`)
    }
  }
  const per = (f: (t: TargetNumbers) => number) =>
    all.flatMap((p) => p.targets.map((t) => [{ pair: p.pair, source: p.source, target: t.target }, f(t)] as [Record<string, string>, number]))
  family(
    'hapair_follow_lag_seconds',
    'gauge',
    'Age of the oldest change on the active node not yet confirmed on the target (0: caught up).',
    per((t) => Math.round(t.lagSeconds * 1000) / 1000),
  )
  family(
    'hapair_follow_pending_paths',
    'gauge',
    'Paths changed on the active node and not yet confirmed on the target (the in-flight list).',
    per((t) => t.pendingPaths),
  )
  family(
    'hapair_follow_target_up',
    'gauge',
    '1 while the target receives batches, 0 while it is lost (degraded).',
    per((t) => (t.up ? 1 : 0)),
  )
  family(
    'hapair_follow_bytes_shipped_total',
    'counter',
    'File data sent to the target (bytes not already there).',
    per((t) => t.bytesShipped),
  )
  family(
    'hapair_follow_files_shipped_total',
    'counter',
    'Regular files sent to the target.',
    per((t) => t.filesShipped),
  )
  family(
    'hapair_follow_files_deleted_total',
    'counter',
    'Entries deleted on the target (mirror items).',
    per((t) => t.filesDeleted),
  )
  family(
    'hapair_follow_batches_total',
    'counter',
    'Batches shipped to the target.',
    per((t) => t.batches),
  )
  family(
    'hapair_follow_full_passes_total',
    'counter',
    'Full passes run for the target (start, overflow, return).',
    per((t) => t.fullPasses),
  )
  const pairRows = (f: (p: FollowNumbers) => number) => all.map((p) => [{ pair: p.pair, source: p.source }, f(p)] as [Record<string, string>, number])
  family(
    'hapair_follow_events_total',
    'counter',
    'Change events received from the node-side watcher.',
    pairRows((p) => p.events),
  )
  family(
    'hapair_follow_overflows_total',
    'counter',
    'Watcher overflows (each fell back to a full pass).',
    pairRows((p) => p.overflows),
  )
  return out.join('\n') + '\n'
}

/** Serves GET /metrics (and /) until closed. */
export function serveMetrics(port: number, host: string, numbers: () => FollowNumbers[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || !['/metrics', '/'].includes((req.url ?? '/').split('?')[0])) {
      res.writeHead(404).end('not found\n')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(numbers()))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      server.unref()
      resolve(server)
    })
  })
}
