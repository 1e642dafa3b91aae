import { test } from 'uvu'
import * as assert from 'uvu/assert'
import http from 'node:http'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { HookRunner, type WatchEvent } from '../../lib/watch/events.ts'
import { formatEvent } from '../../lib/watch/index.ts'

const ev = (event: WatchEvent['event'], extra: Record<string, unknown> = {}): WatchEvent => ({
  at: new Date().toISOString(),
  ms: Date.now(),
  pair: 'demo',
  event,
  ...extra,
})
const noSleep = () => Promise.resolve()

test('command hook gets the event as JSON on stdin, one run per event, in order', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-hook-'))
  const out = path.join(dir, 'got')
  const fails: string[] = []
  const h = new HookRunner({ command: `cat >> '${out}'` }, (w, why) => fails.push(`${w}: ${why}`), noSleep)
  h.push(ev('confirmed', { node: 'node-a' }))
  h.push(ev('takeover-done', { to: 'node-b' }))
  await h.idle()
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.equal(
    lines.map((l) => l.event),
    ['confirmed', 'takeover-done'],
  )
  assert.is(lines[1].to, 'node-b')
  assert.equal(fails, [])
})

test('a failing command is retried a bounded number of times, then reported', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-hook-'))
  const count = path.join(dir, 'count')
  writeFileSync(count, '')
  const fails: string[] = []
  const h = new HookRunner({ command: `echo x >> '${count}'; echo nope >&2; exit 7`, retries: 2 }, (w, why) => fails.push(`${w}: ${why}`), noSleep)
  h.push(ev('confirmed'))
  await h.idle()
  assert.is(readFileSync(count, 'utf8').trim().split('\n').length, 3)
  assert.equal(fails, ['command: hook command exited 7: nope'])
})

test('webhook: POSTed as JSON, retried after a 500, delivered once', async () => {
  const got: { status: number; body: string; type?: string }[] = []
  let n = 0
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      const status = n++ === 0 ? 500 : 200
      got.push({ status, body, type: req.headers['content-type'] })
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  const fails: string[] = []
  const h = new HookRunner({ webhook: `http://127.0.0.1:${port}/hook`, retries: 3 }, (w, why) => fails.push(`${w}: ${why}`), noSleep)
  h.push(ev('vetoed', { by: ['node-b'] }))
  await h.idle()
  server.close()
  assert.equal(
    got.map((g) => g.status),
    [500, 200],
  )
  assert.is(JSON.parse(got[1].body).event, 'vetoed')
  assert.is(got[1].type, 'application/json')
  assert.equal(fails, [])
})

test('the queue is bounded: a dead alerting system cannot grow memory', async () => {
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  // The first delivery fails and waits (on the gate) before its retry; meanwhile events pile up.
  const h = new HookRunner(
    { command: 'exit 1', retries: 1 },
    () => undefined,
    () => gate,
  )
  for (let i = 0; i < 150; i++) h.push(ev('suspect', { i }))
  await new Promise((r) => setTimeout(r, 300))
  assert.is(h.dropped, 49)
  assert.is(h.discard(), 100)
  release()
  await h.idle()
})

test('readable line: pair, event, fields, detail last', () => {
  const line = formatEvent({ at: '2026-12-02T12:00:00.000Z', ms: 1, pair: 'demo', event: 'vetoed', node: 'node-a', by: ['node-b'], detail: 'cut off' })
  assert.is(line, '2026-12-02T12:00:00.000Z demo vetoed node=node-a by=["node-b"]: cut off')
})

test.run()
