import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judgeLatency } from '../../lib/checks/latency.ts'
import { judgeLinks, linkTargets } from '../../lib/checks/links.ts'
import { parseReach, probeArgs } from '../../lib/checks/reach.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { runLocal } from './_local.ts'

const parse: [string, string, ReturnType<typeof parseReach>[number]][] = [
  ['tcp: median of the connect times', 'ok tcp 10.000100 10.000300 11.000000 11.000900 12.0 12.0005', { ok: true, ms: 0.5, via: 'tcp' }],
  ['ping: the average', 'ok ping 0.048', { ok: true, ms: 0.048, via: 'ping' }],
  ['failure keeps its reason', 'fail Connection refused', { ok: false, error: 'Connection refused' }],
  ['an empty reason still says something', 'fail ', { ok: false, error: 'no answer' }],
  ['malformed tcp line is a failure', 'ok tcp 1', { ok: false, error: 'ok tcp 1' }],
]
for (const [name, line, want] of parse) {
  test(`parseReach: ${name}`, () => {
    const [r] = parseReach(line + '\n', 1)
    if (r.ok && want.ok) {
      assert.is(r.via, want.via)
      assert.ok(Math.abs(r.ms - want.ms) < 1e-6, `${r.ms}`)
    } else assert.equal(r, want)
  })
}

test('parseReach: a line count that does not match the targets is an error', () => {
  assert.throws(() => parseReach('ok ping 1\n', 2), /expected 2 lines/)
})

let server: net.Server
let open = 0
let closed = 0
test.before(async () => {
  server = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  open = (server.address() as net.AddressInfo).port
  const tmp = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => tmp.once('listening', r))
  closed = (tmp.address() as net.AddressInfo).port
  await new Promise((r) => tmp.close(r))
})
test.after(() => {
  server.close()
})

test('the probe script, for real: an open port, a closed one, and ping', () => {
  const targets = [
    { label: 'open', host: '127.0.0.1', port: open },
    { label: 'closed', host: '127.0.0.1', port: closed },
    { label: 'lo', host: '127.0.0.1' },
  ]
  const r = parseReach(runLocal(probeArgs(targets, 2, 3)).stdout, 3)
  assert.is(r[0].ok, true)
  assert.ok(r[0].ok && r[0].ms >= 0 && r[0].ms < 100)
  assert.equal(r[1], { ok: false, error: 'Connection refused' })
  // ping needs a raw socket; as root (CI, the lab) it works.
  if (process.getuid?.() === 0) assert.is(r[2].ok, true, JSON.stringify(r[2]))
})

const pair = {
  name: 'p',
  primary: 'a',
  nodes: [
    { name: 'a', address: '10.0.0.1' },
    { name: 'b', address: '10.0.0.2', ssh: { port: 2222 } },
  ],
  preconditions: {
    maxLatencyMs: 5,
    endpoints: [
      { name: 'gw', kind: 'gateway', host: '10.0.0.254' },
      { name: 'db', kind: 'database', host: '10.0.0.20', port: 5432, maxLatencyMs: 10 },
    ],
  },
} as unknown as Pair
const inv = { file: '/x/inv.json', dir: '/x', data: { version: 1, pairs: [pair] } } as any

test('linkTargets: peers on their SSH port, then the endpoints', () => {
  assert.equal(
    linkTargets({ inv }, pair, pair.nodes[0]).map((t) => `${t.label}=${t.host}:${t.port ?? '-'}`),
    ['peer b=10.0.0.2:2222', 'gateway gw=10.0.0.254:-', 'database db=10.0.0.20:5432'],
  )
})

test("linkTargets: a peer with a private address is reached there, not on the controller's address", () => {
  const priv = { ...pair, nodes: pair.nodes.map((n, i) => ({ ...n, privateAddress: `10.9.0.${i + 1}` })) } as Pair
  assert.equal(
    linkTargets({ inv }, priv, priv.nodes[0])
      .filter((t) => t.label.startsWith('peer'))
      .map((t) => `${t.label}=${t.host}`),
    ['peer b=10.9.0.2'],
  )
})

test('judgeLinks names every target that cannot be reached', () => {
  const t = linkTargets({ inv }, pair, pair.nodes[1])
  assert.equal(
    judgeLinks(t, [
      { ok: true, ms: 1, via: 'tcp' },
      { ok: true, ms: 1, via: 'ping' },
      { ok: true, ms: 1, via: 'tcp' },
    ]),
    { ok: true, detail: 'reaches peer a, gateway gw, database db' },
  )
  const v = judgeLinks(t, [
    { ok: false, error: 'no answer within 3 s' },
    { ok: true, ms: 1, via: 'ping' },
    { ok: false, error: 'Connection refused' },
  ])
  assert.is(v.ok, false)
  assert.is(
    v.detail,
    'cannot reach peer a 10.0.0.1:22 (no answer within 3 s), database db 10.0.0.20:5432 (Connection refused): check routes, firewalls and the far end',
  )
})

test('judgeLatency: per-endpoint limit, else the pair default', () => {
  const eps = pair.preconditions!.endpoints!
  assert.equal(
    judgeLatency(pair, eps, [
      { ok: true, ms: 0.05, via: 'ping' },
      { ok: true, ms: 9.5, via: 'tcp' },
    ]),
    { ok: true, detail: 'gw 0.05 ms (max 5), db 9.5 ms (max 10)' },
  )
  const v = judgeLatency(pair, eps, [
    { ok: true, ms: 6, via: 'ping' },
    { ok: false, error: 'Connection refused' },
  ])
  assert.is(v.ok, false)
  assert.match(v.detail, /^gw 10\.0\.0\.254 6\.0 ms > 5 ms: .*; cannot measure db 10\.0\.0\.20:5432: Connection refused$/)
})

test.run()
