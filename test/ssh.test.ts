// The SSH transport against real sshd: pinned keys accepted, anything else refused with both
// fingerprints; results and errors carry node, command, exit code, stderr and flags.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createServer, type Socket } from 'node:net'
import { startTestLab, type TestLab } from './helpers/lab.ts'
import { SshPool } from '../lib/ssh.ts'
import { InputError, RemoteError } from '../lib/errors.ts'
import { labFault } from '../lib/lab/index.ts'
import type { LoadedInventory } from '../lib/inventory/load.ts'

let lab: TestLab
test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

const pair = () => lab.inv.data.pairs[0]
const pinFile = () => path.resolve(lab.inv.dir, lab.inv.data.defaults!.ssh!.knownHostsFile!)
/** The lab's inventory with other SSH settings (same nodes, same keys unless changed). */
function withSsh(ssh: Record<string, unknown>): LoadedInventory {
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  data.defaults.ssh = { ...data.defaults.ssh, ...ssh }
  return { ...lab.inv, data }
}
async function failure(inv: LoadedInventory, node: string, cmd: string[] = ['true'], opts = {}): Promise<RemoteError> {
  const pool = new SshPool(inv)
  try {
    await pool.session(inv.data.pairs[0], node).run(cmd, opts)
  } catch (e) {
    assert.instance(e, RemoteError)
    return e as RemoteError
  } finally {
    pool.close()
  }
  throw new Error('expected a RemoteError')
}

test('a pinned node answers; stdout, exit code, duration and stdin come back', async () => {
  const pool = new SshPool(lab.inv)
  try {
    const s = pool.session(pair(), 'node-a')
    const r = await s.run(['sh', '-c', 'cat; echo " $1"', 'sh', "it's $(x)"], { input: 'in' })
    assert.is(r.stdout, "in it's $(x)\n")
    assert.is(r.code, 0)
    assert.is(r.node, 'node-a')
    assert.type(r.durationMs, 'number')
    const again = await s.run(['hostname'])
    assert.is(again.stdout.trim(), 'node-a', 'same session, same node')
  } finally {
    pool.close()
  }
})

test('a non-zero exit is a RemoteError naming node, command, exit code and stderr', async () => {
  const e = await failure(lab.inv, 'node-b', ['sh', '-c', 'echo boom >&2; exit 3'])
  assert.is(e.node, 'node-b')
  assert.is(e.remoteExitCode, 3)
  assert.match(e.stderr, 'boom')
  assert.match(e.message, /node-b \(198\.51\.100\.\d+\): exit 3 .*: boom/)
  assert.not.ok(e.unreachable)
  const pool = new SshPool(lab.inv)
  try {
    const r = await pool.session(pair(), 'node-b').run(['false'], { check: false })
    assert.is(r.code, 1)
    assert.is(r.ok, false)
  } finally {
    pool.close()
  }
})

test('a command over its timeout fails as timedOut', async () => {
  const e = await failure(lab.inv, 'node-a', ['sleep', '5'], { timeoutMs: 300 })
  assert.ok(e.timedOut)
  assert.match(e.message, /timed out after 300 ms/)
})

test('a changed host key is refused, naming expected and presented fingerprints', async () => {
  const kh = readFileSync(pinFile(), 'utf8')
  const [a, b] = pair().nodes.map((n) => n.address)
  // node-a's line now carries node-b's key: exactly what a rebuilt or impersonated node looks like.
  const bKey = kh
    .split('\n')
    .find((l) => l.startsWith(b + ' '))!
    .split(' ')
    .slice(1)
    .join(' ')
  const swapped = `${lab.inv.dir}/known_hosts.swapped`
  writeFileSync(
    swapped,
    kh
      .split('\n')
      .map((l) => (l.startsWith(a + ' ') ? `${a} ${bKey}` : l))
      .join('\n'),
  )
  const e = await failure(withSsh({ knownHostsFile: swapped }), 'node-a')
  assert.ok(e.hostKeyMismatch)
  assert.match(e.message, /HOST KEY MISMATCH: expected SHA256:\S+, presented SHA256:\S+/)
})

test('a node missing from known_hosts is refused, never trusted on first use', async () => {
  const kh = `${lab.inv.dir}/known_hosts.partial`
  const a = pair().nodes[0].address
  const full = readFileSync(pinFile(), 'utf8')
  writeFileSync(
    kh,
    full
      .split('\n')
      .filter((l) => !l.startsWith(a + ' '))
      .join('\n'),
  )
  const e = await failure(withSsh({ knownHostsFile: kh }), 'node-a')
  assert.ok(e.hostKeyMismatch)
  assert.match(e.message, /host key not pinned: presented SHA256:\S+/)
})

test('no knownHostsFile at all: refused before connecting', async () => {
  const data = JSON.parse(JSON.stringify(lab.inv.data))
  delete data.defaults.ssh.knownHostsFile
  const e = await failure({ ...lab.inv, data }, 'node-a')
  assert.match(e.message, /refusing to connect without a pinned host key/)
})

test('a wrong client key fails authentication, not as unreachable', async () => {
  // A key file that is not there is bad input (exit 2), said as such, not a node that cannot be reached.
  const pool = new SshPool(withSsh({ keyFile: '/var/lib/nonexistent-key' }))
  try {
    const e = await pool
      .session(pair(), 'node-a')
      .run(['true'])
      .then(
        () => undefined,
        (x) => x,
      )
    assert.instance(e, InputError)
    assert.match((e as Error).message, /key file \/var\/lib\/nonexistent-key does not exist/)
  } finally {
    pool.close()
  }
  const other = `${lab.inv.dir}/other_ed25519`
  const { execFileSync } = await import('node:child_process')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other])
  const auth = await failure(withSsh({ keyFile: other }), 'node-a')
  assert.match(auth.message, /authentication as root failed/)
  assert.ok(auth.authFailed, 'flagged as an authentication failure')
  assert.not.ok(auth.unreachable)
})

test('an isolated node is unreachable (flag), and a second call in the same run fails at once', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  const pool = new SshPool(withSsh({ connectTimeoutMs: 800 }))
  try {
    const s = pool.session(pair(), 'node-b')
    const t0 = Date.now()
    const e1 = await s.run(['true']).catch((e) => e)
    assert.ok(e1.unreachable, e1.message)
    assert.ok(e1.timedOut, 'the handshake timeout is flagged, not read from the message')
    assert.ok(Date.now() - t0 >= 700, 'the first attempt waits for its timeout')
    const t1 = Date.now()
    const e2 = await s.run(['true']).catch((e) => e)
    assert.ok(e2.unreachable)
    assert.ok(Date.now() - t1 < 100, 'the run does not pay the timeout twice')
  } finally {
    pool.close()
    await labFault(lab.inv, 'heal', 'node-b')
  }
})

test('a kept connection whose link dies: the next command fails within its timeout, channel open included', async () => {
  const pool = new SshPool(lab.inv)
  try {
    const s = pool.session(pair(), 'node-b')
    await s.run(['true'])
    await labFault(lab.inv, 'isolate', 'node-b')
    const t0 = Date.now()
    const e = await s.run(['true'], { timeoutMs: 600 }).catch((x) => x)
    const took = Date.now() - t0
    assert.instance(e, RemoteError)
    assert.ok(e.unreachable && e.timedOut, e.message)
    // Before the bound, the channel open waited for ssh2's keepalive: 10-15 s.
    assert.ok(took < 2000, `failed after ${took} ms`)
  } finally {
    pool.close()
    await labFault(lab.inv, 'heal', 'node-b')
  }
})
test('a server that accepts and says nothing, then hangs up: one unreachable error, and the process lives on', async () => {
  // ssh2 reports such a handshake twice (its ready timeout, then the lost connection); an error
  // nobody listens for would end the watcher or the playbook right there.
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    setTimeout(() => s.destroy(), 400)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const inv = withSsh({ connectTimeoutMs: 200, port })
  inv.data.pairs[0].nodes[0].address = '127.0.0.1'
  let crashed: unknown
  const onCrash = (e: unknown) => {
    crashed = e
  }
  process.on('uncaughtException', onCrash)
  try {
    const e = await failure(inv, 'node-a')
    assert.ok(e.unreachable && e.timedOut, e.message)
    await new Promise((r) => setTimeout(r, 500)) // past the hang-up
    assert.is(sockets.length, 1)
    assert.is(crashed, undefined, String(crashed))
  } finally {
    process.off('uncaughtException', onCrash)
    server.close()
  }
})

test('a handshake cut short by the watcher (markUnreachable) fails the waiting command at once, never hangs it', async () => {
  // The watcher marks a node it has just found dead while a re-read may be mid-handshake to it;
  // a dial that settled only on ready or error left that re-read waiting forever, and with it
  // every later re-read (no rejoin, no pause honoured).
  // The server's banner comes, then nothing: ssh2 reports a connection lost after the banner
  // only as 'close', never as an error.
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    s.write('SSH-2.0-OpenSSH_9.2p1 lab\r\n')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const inv = withSsh({ connectTimeoutMs: 20_000, port })
  inv.data.pairs[0].nodes[0].address = '127.0.0.1'
  const pool = new SshPool(inv)
  try {
    const s = pool.session(inv.data.pairs[0], 'node-a')
    const t0 = Date.now()
    const run = s.run(['true'], { timeoutMs: 20_000 }).then(
      () => undefined,
      (e) => e,
    )
    await new Promise((r) => setTimeout(r, 300))
    s.markUnreachable('lab test: found dead')
    const e = await Promise.race([run, new Promise((r) => setTimeout(() => r('still waiting'), 3000))])
    assert.instance(e, RemoteError, String(e))
    assert.ok((e as RemoteError).unreachable, (e as RemoteError).message)
    assert.ok(Date.now() - t0 < 2000, `failed after ${Date.now() - t0} ms`)
  } finally {
    pool.close()
    for (const k of sockets) k.destroy()
    server.close()
  }
})

test('a server that hangs up after its banner: unreachable at once, not after the connect timeout', async () => {
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    s.write('SSH-2.0-OpenSSH_9.2p1 lab\r\n')
    setTimeout(() => s.destroy(), 200)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const inv = withSsh({ connectTimeoutMs: 20_000, port })
  inv.data.pairs[0].nodes[0].address = '127.0.0.1'
  const t0 = Date.now()
  try {
    const e = await Promise.race([
      failure(inv, 'node-a', ['true'], { timeoutMs: 20_000 }),
      new Promise<string>((r) => setTimeout(() => r('still waiting'), 3000)),
    ])
    assert.instance(e, RemoteError, String(e))
    assert.ok((e as RemoteError).unreachable, (e as RemoteError).message)
    assert.match((e as RemoteError).message, /closed during the SSH handshake/)
    assert.ok(Date.now() - t0 < 2000, `failed after ${Date.now() - t0} ms`)
  } finally {
    server.close()
  }
})

test.run()
