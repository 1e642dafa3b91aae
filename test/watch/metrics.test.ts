import { test } from 'uvu'
import * as assert from 'uvu/assert'
// @ts-expect-error no types
import parse from 'parse-prometheus-text-format'
import { watchMetrics } from '../../lib/watch/metrics.ts'

test('renders valid exposition text that a Prometheus parser reads back', async () => {
  const m = watchMetrics()
  m.set('hapair_watch_state', { pair: 'de"mo', state: 'ok' }, 1)
  m.inc('hapair_watch_takeovers_total', { pair: 'demo', result: 'done' })
  m.inc('hapair_watch_takeovers_total', { pair: 'demo', result: 'done' })
  m.set('hapair_watch_echo_age_ms', { pair: 'demo', node: 'node-a' }, NaN)
  const fams = parse(m.render()) as { name: string; type: string; metrics: { value: string; labels: Record<string, string> }[] }[]
  const by = Object.fromEntries(fams.map((f) => [f.name, f]))
  assert.is(by.hapair_watch_takeovers_total.type, 'COUNTER')
  assert.is(by.hapair_watch_takeovers_total.metrics[0].value, '2')
  assert.is(by.hapair_watch_state.metrics[0].labels.pair, 'de"mo')
  assert.is(by.hapair_watch_echo_age_ms.metrics[0].value, 'NaN')
})

test('served on /metrics, 404 elsewhere', async () => {
  const m = watchMetrics()
  m.inc('hapair_watch_vetoes_total', { pair: 'demo' })
  const server = await m.serve(0, '127.0.0.1')
  const port = (server.address() as { port: number }).port
  const ok = await fetch(`http://127.0.0.1:${port}/metrics`)
  assert.is(ok.status, 200)
  assert.match(await ok.text(), 'hapair_watch_vetoes_total{pair="demo"} 1')
  assert.is((await fetch(`http://127.0.0.1:${port}/`)).status, 404)
  server.close()
})

test.run()
