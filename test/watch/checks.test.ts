// The survivor's vote loop (lib/watch/checks.ts), run here as the node runs it: the perl loop the
// watcher starts where perl exists, and the shell loop it falls back to, give the same lines for
// the same services: "ok" when any check answered as expected, "fail N" otherwise, every round
// bounded by the timeout even when a server accepts and says nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { createServer, type Server, type Socket } from 'node:net'
import { VOTE_SCRIPT, voteArgs, voteCommand } from '../../lib/watch/checks.ts'
import type { HealthCheck } from '../../lib/inventory/schema.ts'

const servers: Server[] = []
const sockets: Socket[] = []
async function listen(onConn: (s: Socket) => void): Promise<number> {
  const srv = createServer((s) => {
    sockets.push(s)
    s.on('error', () => undefined)
    onConn(s)
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return (srv.address() as { port: number }).port
}
test.after(() => {
  for (const s of sockets) s.destroy()
  for (const s of servers) s.close()
})

/** The lines the loop prints in `ms`, with these checks of 127.0.0.1 expecting node-b. */
function lines(kind: 'perl' | 'shell', checks: HealthCheck[], ms = 800): Promise<string[]> {
  const args = voteArgs('127.0.0.1', checks, 'node-b')
  const argv = kind === 'perl' ? voteCommand(100, 200, args) : ['bash', '-c', VOTE_SCRIPT, 'hapair-vote', '0.100', '0.200', ...args]
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    setTimeout(() => c.kill('SIGKILL'), ms)
    c.on('close', () => resolve(out.split('\n').filter(Boolean)))
  })
}

let web: number, silent: number, closed: number
test.before(async () => {
  web = await listen((s) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nnode-b\n')))
  silent = await listen(() => undefined)
  closed = await listen(() => undefined)
  await new Promise<void>((r) => servers.pop()!.close(() => r()))
})
const http = (port: number): HealthCheck => ({ protocol: 'http', port, path: '/', expectBody: '{node}' }) as HealthCheck

for (const kind of ['perl', 'shell'] as const) {
  test(`${kind}: a service that answers as the node: ok, every round`, async () => {
    const l = await lines(kind, [http(web)])
    assert.ok(l.length >= 2, l.join('|'))
    assert.ok(
      l.every((x) => x === 'ok'),
      l.join('|'),
    )
  })

  test(`${kind}: a closed port, a wrong answer, a server that accepts and says nothing: fail, and the rounds go on within the timeout`, async () => {
    const wrong = await listen((s) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nnode-a\n')))
    for (const port of [closed, wrong, silent]) {
      const l = await lines(kind, [http(port)])
      assert.ok(l.length >= 2, `port ${port}: ${l.join('|')}`)
      assert.ok(
        l.every((x) => x === 'fail 1'),
        `port ${port}: ${l.join('|')}`,
      )
    }
  })

  test(`${kind}: any check that answers makes the round ok; a plain TCP check is a connect`, async () => {
    const l = await lines(kind, [http(closed), http(web)])
    assert.ok(l.length >= 2 && l.every((x) => x === 'ok'), l.join('|'))
    const tcp = await lines(kind, [{ protocol: 'tcp', port: silent } as HealthCheck])
    assert.ok(tcp.length >= 2 && tcp.every((x) => x === 'ok'), tcp.join('|'))
    const none = await lines(kind, [http(closed), { protocol: 'tcp', port: closed } as HealthCheck])
    assert.ok(none.length >= 2 && none.every((x) => x === 'fail 2'), none.join('|'))
  })
}

test.run()
