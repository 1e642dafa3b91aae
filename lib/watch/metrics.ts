// Prometheus text exposition of the watcher's state, served on the pair's metrics port.
import http from 'node:http'

type Labels = Record<string, string>
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
const key = (name: string, l: Labels) =>
  `${name}{${Object.entries(l)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(',')}}`

export class Metrics {
  private values = new Map<string, { name: string; value: number }>()
  private help = new Map<string, { type: 'gauge' | 'counter'; help: string }>()

  describe(name: string, type: 'gauge' | 'counter', help: string): void {
    this.help.set(name, { type, help })
  }
  set(name: string, labels: Labels, value: number): void {
    this.values.set(key(name, labels), { name, value })
  }
  inc(name: string, labels: Labels, by = 1): void {
    const k = key(name, labels)
    this.values.set(k, { name, value: (this.values.get(k)?.value ?? 0) + by })
  }
  get(name: string, labels: Labels): number | undefined {
    return this.values.get(key(name, labels))?.value
  }

  render(): string {
    const out: string[] = []
    const names = [...new Set([...this.help.keys(), ...[...this.values.values()].map((v) => v.name)])].sort()
    for (const n of names) {
      const h = this.help.get(n)
      if (h) out.push(`# HELP ${n} ${h.help}`, `# TYPE ${n} ${h.type}`)
      for (const [k, v] of this.values) if (v.name === n) out.push(`${k} ${Number.isFinite(v.value) ? v.value : 'NaN'}`)
    }
    return out.join('\n') + '\n'
  }

  serve(port: number, address = '127.0.0.1'): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.render())
    })
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, address, () => resolve(server))
    })
  }
}

export function watchMetrics(): Metrics {
  const m = new Metrics()
  m.describe('hapair_watch_state', 'gauge', 'current verdict per pair (1 for the state in the label)')
  m.describe('hapair_watch_echo_rtt_ms', 'gauge', 'last ICMP echo round trip to a node, milliseconds')
  m.describe('hapair_watch_survivor_echo_rtt_ms', 'gauge', 'last echo round trip from a surviving node to the active one, as that node measured it')
  m.describe('hapair_watch_echo_age_ms', 'gauge', 'time since the last echo reply from a node, milliseconds')
  m.describe('hapair_watch_takeovers_total', 'counter', 'automatic takeovers by result (done, failed, skipped)')
  m.describe('hapair_watch_vetoes_total', 'counter', 'suspicions vetoed by a node that still saw the active one')
  m.describe('hapair_watch_events_total', 'counter', 'events emitted, by name')
  m.describe('hapair_watch_paused', 'gauge', '1 while the pair is paused for maintenance')
  return m
}
