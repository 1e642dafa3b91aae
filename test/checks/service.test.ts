import http from 'node:http'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judgeFloatingIps } from '../../lib/checks/floating-ip.ts'
import { commandProbe, runHealthCheck, runServiceChecks, serviceChecksUntil } from '../../lib/checks/service-probe.ts'
import type { HealthCheck } from '../../lib/inventory/schema.ts'
import type { NodeSession } from '../../lib/ssh.ts'
import { localPool } from './_local.ts'
import { judgeSingletons, serviceAddresses } from '../../lib/checks/singletons.ts'
import type { Pair, Service } from '../../lib/inventory/schema.ts'

const fip = (holds: Record<string, 'held' | 'free' | 'unknown'>) => [{ address: '198.51.100.20', holds }]
const fips: [string, Record<string, 'held' | 'free' | 'unknown'>, string, boolean, RegExp][] = [
  ['active holds it', { a: 'held', b: 'free' }, 'a', true, /^holds 198\.51\.100\.20$/],
  ['standby does not', { a: 'held', b: 'free' }, 'b', true, /not here \(standby\)/],
  ['on both: the standby is wrong', { a: 'held', b: 'held' }, 'b', false, /holds 198\.51\.100\.20, but the active node is a \(held by a and b: clients reach either\): release it here/],
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

const db = { name: 'db', singleton: true, start: 'svc start db', stop: 'svc stop db', status: 'svc status db', checks: [{ protocol: 'tcp', port: 5432 }] } as Service
const singles: [string, boolean, string, boolean, RegExp][] = [
  ['runs on the active node only', true, 'a', true, /db runs here only/],
  ['stopped on the standby', false, 'b', true, /db stopped \(standby\)/],
  ['runs on the standby too: two live writers', true, 'b', false, /db is running here, but the active node is a: two live writers; stop it here \(svc stop db\)/],
  ['not running on the active node', false, 'a', false, /db is not running on the active node: start it \(svc start db\)/],
]
for (const [name, running, node, ok, re] of singles) {
  test(`judgeSingletons: ${name}`, () => {
    const v = judgeSingletons([db], { db: running }, node, 'a')
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
  })
}

test('serviceAddresses: floating IPs, else the active node\'s service or admin address', () => {
  const pair = { nodes: [{ name: 'a', address: '10.0.0.1', serviceAddress: '10.1.0.1' }, { name: 'b', address: '10.0.0.2' }] } as unknown as Pair
  assert.equal(serviceAddresses({ ...pair, floatingIps: [{ address: '10.0.0.9', driver: 'linux' }] } as Pair, 'a'), ['10.0.0.9'])
  assert.equal(serviceAddresses(pair, 'a'), ['10.1.0.1'])
  assert.equal(serviceAddresses(pair, 'b'), ['10.0.0.2'])
})

let web: http.Server
let tcp: net.Server
let webPort = 0
let tcpPort = 0
test.before(async () => {
  web = http.createServer((req, res) => { res.statusCode = req.url === '/missing' ? 404 : 200; res.end('node-a\n') }).listen(0, '127.0.0.1')
  tcp = net.createServer((s) => s.on('data', () => s.end('db node-a\n'))).listen(0, '127.0.0.1')
  await Promise.all([new Promise((r) => web.once('listening', r)), new Promise((r) => tcp.once('listening', r))])
  webPort = (web.address() as net.AddressInfo).port
  tcpPort = (tcp.address() as net.AddressInfo).port
})
test.after(() => { web.close(); tcp.close() })

const session = localPool().session({} as Pair, 'node-a') as unknown as NodeSession
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

test('command health check runs on the node: exit 0 passes, else the exit code and last stderr line', async () => {
  assert.equal(await commandProbe(session, { protocol: 'command', command: 'true' }), { ok: true, detail: '`true` on node-a' })
  assert.equal(await commandProbe(session, { protocol: 'command', command: 'echo db down >&2; exit 3' }), { ok: false, detail: '`echo db down >&2; exit 3` on node-a exited 3: db down' })
})

// The one runner: verify's singletons check and failover's post-check both go through it.
const svcPair = (services: any[]) => ({ name: 'p', primary: 'node-a', nodes: [{ name: 'node-a', address: '127.0.0.1' }, { name: 'node-b', address: '127.0.0.2' }], services } as unknown as Pair)
const svc = (name: string, checks: Partial<HealthCheck>[]) => ({ name, start: 'true', stop: 'true', status: 'true', checks })

test('runServiceChecks: every check of every service, network ones through each address, commands once on the node', async () => {
  const pool = localPool()
  const pair = svcPair([
    svc('web', [{ protocol: 'http', port: webPort, expectBody: '{node}' }]),
    svc('db', [{ protocol: 'tcp', port: tcpPort, send: 'ping\n', expect: '{node}' }, { protocol: 'command', command: 'echo checked' }]),
  ])
  const r = await runServiceChecks(pool, pair, { node: 'node-a', addresses: ['127.0.0.1', '127.0.0.1'] })
  assert.equal(r.failures, [])
  assert.is(r.ok, true)
  assert.is(r.count, 3)
  assert.is(r.passed.length, 5, 'two network checks through two addresses, one command')
  assert.equal(pool.calls, [{ node: 'node-a', command: 'echo checked' }])
  const asB = await runServiceChecks(pool, pair, { node: pair.nodes[1], addresses: ['127.0.0.1'] })
  assert.is(asB.ok, false)
  assert.equal(asB.failures.map((f) => f.split(':')[0]), ['web', 'db'], '{node} means the node named, and the command ran there')
  assert.is(pool.calls.at(-1)!.node, 'node-b')
})

test('runServiceChecks: only the services asked for; each check keeps its own timeout', async () => {
  const pool = localPool()
  const pair = svcPair([svc('web', [{ protocol: 'http', port: webPort }]), svc('slow', [{ protocol: 'command', command: 'sleep 5', timeoutMs: 300 }])])
  assert.is((await runServiceChecks(pool, pair, { node: 'node-a', addresses: ['127.0.0.1'], services: ['web'] })).count, 1)
  const t0 = Date.now()
  const r = await runServiceChecks(pool, pair, { node: 'node-a', addresses: ['127.0.0.1'] })
  assert.ok(Date.now() - t0 < 2000, `stopped at the check's 300 ms, not the command default (${Date.now() - t0} ms)`)
  assert.equal(r.failures.map((f) => f.split(':')[0]), ['slow'])
})

test('runServiceChecks: a node that cannot be asked fails its command checks with why; the others still run', async () => {
  const pair = svcPair([svc('web', [{ protocol: 'http', port: webPort }]), svc('db', [{ protocol: 'command', command: 'true' }])])
  const r = await runServiceChecks(localPool(new Set(['node-a'])), pair, { node: 'node-a', addresses: ['127.0.0.1'] })
  assert.is(r.passed.length, 1)
  assert.equal(r.failures.length, 1)
  assert.match(r.failures[0], /^db: .*unreachable on port 22/)
})

test('serviceChecksUntil: short attempts first, until the service answers', async () => {
  // A port that accepts but stays silent, then starts answering: what a client meets while the address moves.
  let answering = false
  const late = net.createServer((s) => { if (answering) s.end('db node-a\n') }).listen(0, '127.0.0.1')
  await new Promise((r) => late.once('listening', r))
  const port = (late.address() as net.AddressInfo).port
  setTimeout(() => { answering = true }, 400)
  try {
    const pair = svcPair([svc('db', [{ protocol: 'tcp', port, expect: '{node}', timeoutMs: 2000 }])])
    const r = await serviceChecksUntil(localPool(), pair, { node: 'node-a', addresses: ['127.0.0.1'], deadlineMs: 5000 })
    assert.is(r.ok, true, r.failures.join('; '))
    assert.ok(r.attempts >= 2, `retried (${r.attempts} attempts)`)
    assert.ok(r.ms < 2000, `the first attempts were short, not the check's 2 s (${r.ms} ms)`)
    answering = false
    const never = await serviceChecksUntil(localPool(), pair, { node: 'node-a', addresses: ['127.0.0.1'], deadlineMs: 300 })
    assert.is(never.ok, false)
    assert.match(never.failures[0], /^db: tcp 127\.0\.0\.1:\d+: no answer within \d+ ms/)
    assert.ok(never.ms < 2500, `the deadline ends it (${never.ms} ms)`)
  } finally { late.close() }
})

test('a refused port fails with the reason', async () => {
  web.close()
  assert.match((await check('127.0.0.1', { port: webPort }, 'n')).detail, /ECONNREFUSED/)
})

test.run()
