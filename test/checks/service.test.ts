import http from 'node:http'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judgeFloatingIps } from '../../lib/checks/floating-ip.ts'
import { runHealthCheck } from '../../lib/checks/service-probe.ts'
import type { HealthCheck } from '../../lib/inventory/schema.ts'
import type { NodeSession } from '../../lib/ssh.ts'
import { judgeSingletons, serviceAddresses } from '../../lib/checks/singletons.ts'
import type { Pair, Service } from '../../lib/inventory/schema.ts'

const fip = (holds: Record<string, 'held' | 'free' | 'unknown'>) => [{ address: '198.51.100.20', holds }]
const fips: [string, Record<string, 'held' | 'free' | 'unknown'>, string, boolean, RegExp][] = [
  ['active holds it', { a: 'held', b: 'free' }, 'a', true, /^holds 198\.51\.100\.20$/],
  ['standby does not', { a: 'held', b: 'free' }, 'b', true, /not here \(standby\)/],
  [
    'on both: the standby is wrong',
    { a: 'held', b: 'held' },
    'b',
    false,
    /holds 198\.51\.100\.20, but the active node is a \(held by a and b: clients reach either\): release it here/,
  ],
  ['on both: the active is fine itself', { a: 'held', b: 'held' }, 'a', true, /also held by b/],
  ['on none: the active is wrong', { a: 'free', b: 'free' }, 'a', false, /not here on the active node \(held by no node\): run the failover/],
  ['on none: the standby is fine', { a: 'free', b: 'free' }, 'b', true, /standby/],
  ['on the wrong node only', { a: 'free', b: 'held' }, 'a', false, /held by b/],
  ['unknown', { a: 'unknown', b: 'free' }, 'a', false, /cannot tell/],
]
for (const [name, holds, node, ok, re] of fips) {
  test(`judgeFloatingIps: ${name}`, () => {
    const v = judgeFloatingIps(fip(holds), 'a', node)
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
  })
}
test('judgeFloatingIps: none declared passes', () => assert.equal(judgeFloatingIps([], 'a', 'a'), { ok: true, detail: 'no floating IPs declared' }))

const db = {
  name: 'db',
  singleton: true,
  start: 'svc start db',
  stop: 'svc stop db',
  status: 'svc status db',
  checks: [{ protocol: 'tcp', port: 5432 }],
} as Service
const singles: [string, boolean, string, boolean, RegExp][] = [
  ['runs on the active node only', true, 'a', true, /db runs here only/],
  ['stopped on the standby', false, 'b', true, /db stopped \(standby\)/],
  [
    'runs on the standby too: two live writers',
    true,
    'b',
    false,
    /db is running here, but the active node is a: two live writers; stop it here \(svc stop db\)/,
  ],
  ['not running on the active node', false, 'a', false, /db is not running on the active node: start it \(svc start db\)/],
]
for (const [name, running, node, ok, re] of singles) {
  test(`judgeSingletons: ${name}`, () => {
    const v = judgeSingletons([db], { db: running }, node, 'a')
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
  })
}

test("serviceAddresses: floating IPs, else the active node's service or admin address", () => {
  const pair = {
    nodes: [
      { name: 'a', address: '10.0.0.1', serviceAddress: '10.1.0.1' },
      { name: 'b', address: '10.0.0.2' },
    ],
  } as unknown as Pair
  assert.equal(serviceAddresses({ ...pair, floatingIps: [{ address: '10.0.0.9', driver: 'linux' }] } as Pair, 'a'), ['10.0.0.9'])
  assert.equal(serviceAddresses(pair, 'a'), ['10.1.0.1'])
  assert.equal(serviceAddresses(pair, 'b'), ['10.0.0.2'])
})

let web: http.Server
let tcp: net.Server
let webPort = 0
let tcpPort = 0
test.before(async () => {
  web = http
    .createServer((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 200
      res.end('node-a\n')
    })
    .listen(0, '127.0.0.1')
  tcp = net.createServer((s) => s.on('data', () => s.end('db node-a\n'))).listen(0, '127.0.0.1')
  await Promise.all([new Promise((r) => web.once('listening', r)), new Promise((r) => tcp.once('listening', r))])
  webPort = (web.address() as net.AddressInfo).port
  tcpPort = (tcp.address() as net.AddressInfo).port
})
test.after(() => {
  web.close()
  tcp.close()
})

// http and tcp checks run from the controller: no node is asked, so no session may be used.
const session = new Proxy(
  {},
  {
    get: (_t, k) => {
      throw new Error(`a network check used the node session (${String(k)})`)
    },
  },
) as NodeSession
const check = (host: string, c: Partial<HealthCheck>, node: string) => runHealthCheck(host, { protocol: 'http', ...c } as HealthCheck, node, session)

test('http health check: status and body with {node} (the node that should serve)', async () => {
  assert.is((await check('127.0.0.1', { port: webPort, path: '/', expectBody: '{node}' }, 'node-a')).ok, true)
  const wrong = await check('127.0.0.1', { port: webPort, path: '/', expectBody: '{node}' }, 'node-b')
  assert.is(wrong.ok, false)
  assert.match(wrong.detail, /node-a.*node-b/)
  const missing = await check('127.0.0.1', { port: webPort, path: '/missing' }, 'x')
  assert.is(missing.ok, false)
  assert.match(missing.detail, /404/)
})

test('tcp health check: send, expect with {node}; a silent port fails', async () => {
  assert.is((await check('127.0.0.1', { protocol: 'tcp', port: tcpPort, send: 'ping\n', expect: '{node}' }, 'node-a')).ok, true)
  assert.is((await check('127.0.0.1', { protocol: 'tcp', port: tcpPort, send: 'ping\n', expect: '{node}' }, 'node-b')).ok, false)
  const silent = net.createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise((r) => silent.once('listening', r))
  const quiet = await check('127.0.0.1', { protocol: 'tcp', port: (silent.address() as net.AddressInfo).port, expect: 'x', timeoutMs: 200 }, 'n')
  silent.close()
  assert.match(quiet.detail, /no answer within 200 ms/)
})

// Command checks and the runners that ask nodes: test/checks/service.lab.test.ts (real SSH).

test('a refused port fails with the reason', async () => {
  web.close()
  assert.match((await check('127.0.0.1', { port: webPort }, 'n')).detail, /ECONNREFUSED/)
})

test.run()
