// ssh.jump through two bastions, without root: in-process ssh2 servers on 127.0.0.1 play the
// bastions (direct-tcpip forwarding, each to the next hop only) and the nodes. Every hop's host
// key is pinned; each failure names the hop it happened at. test/ssh-jump.lab.test.ts does the
// same against OpenSSH in the lab.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import ssh2 from 'ssh2'
import { ed25519Pair, type Ed25519Pair } from './helpers/ed25519.ts'
import { SshPool } from '../lib/ssh.ts'
import { RemoteError, hint } from '../lib/errors.ts'
import { sshSettings, type LoadedInventory } from '../lib/inventory/load.ts'
import type { Inventory } from '../lib/inventory/schema.ts'

const { Server, utils } = ssh2

interface Host {
  name: string
  port: number
  key: Ed25519Pair
  /** direct-tcpip requests seen (bastions), as "port". */
  forwards: number[]
  /** SSH connections accepted. */
  connections: number
  close(): Promise<void>
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-jump-'))
const client = ed25519Pair('controller')
const stranger = ed25519Pair('stranger')
writeFileSync(path.join(dir, 'id'), client.privateKeyOpenssh, { mode: 0o600 })
writeFileSync(path.join(dir, 'stranger'), stranger.privateKeyOpenssh, { mode: 0o600 })

/** An SSH server on 127.0.0.1 that lets `allowed` in; a bastion forwards to `forwardTo` ports only, a node answers exec with its name. */
async function host(name: string, opts: { forwardTo?: () => number[]; allowed?: Ed25519Pair } = {}): Promise<Host> {
  const key = ed25519Pair(`${name}-host`)
  const allowed = utils.parseKey(opts.allowed?.publicKeyOpenssh ?? client.publicKeyOpenssh) as ssh2.ParsedKey
  const h: Host = { name, port: 0, key, forwards: [], connections: 0, close: async () => {} }
  const sockets = new Set<net.Socket>()
  const server = new Server({ hostKeys: [key.privateKeyOpenssh] }, (conn) => {
    conn.on('error', () => {})
    conn.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || !ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject(['publickey'])
      if (ctx.signature && allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey'])
      ctx.accept()
    })
    conn.on('ready', () => {
      h.connections++
      conn.on('session', (accept) => {
        accept().on('exec', (acc) => {
          const ch = acc()
          ch.write(`${name}\n`)
          ch.exit(0)
          ch.end()
        })
      })
      if (!opts.forwardTo) return
      conn.on('tcpip', (accept, reject, info) => {
        h.forwards.push(info.destPort)
        if (info.destIP !== '127.0.0.1' || !opts.forwardTo!().includes(info.destPort)) return reject()
        // Like sshd: connect first, accept the channel only once the target answered.
        const s = net.connect(info.destPort, '127.0.0.1')
        sockets.add(s)
        s.once('error', () => reject())
        s.once('connect', () => {
          const ch = accept()
          s.pipe(ch).pipe(s)
          ch.on('close', () => s.destroy())
          s.on('close', () => ch.close())
        })
      })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  h.port = (server.address() as AddressInfo).port
  h.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy()
      server.close(() => r())
    })
  return h
}

let b1: Host, b2: Host, a: Host, b: Host, c: Host
/** A port nothing listens on (bound, then closed). */
let dead = 0

test.before(async () => {
  a = await host('node-a')
  b = await host('node-b')
  c = await host('node-c')
  // b1 forwards only to b2, b2 only to the nodes behind it: the chain is the only way.
  b2 = await host('b2', { forwardTo: () => [a.port, b.port, dead] })
  b1 = await host('b1', { forwardTo: () => [b2.port, dead] })
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  dead = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
})
test.after(async () => {
  await Promise.all([b1, b2, a, b, c].filter(Boolean).map((h) => h.close()))
  rmSync(dir, { recursive: true, force: true })
})

const pin = (h: Host, key = h.key) => `[127.0.0.1]:${h.port} ${key.publicKeyOpenssh.trim()}`
function pins(over: Partial<Record<string, string>> = {}): void {
  writeFileSync(path.join(dir, 'known_hosts'), [b1, b2, a, b, c].map((h) => over[h.name] ?? pin(h)).join('\n') + '\n')
}

/** node-a and node-b behind b1 -> b2; node-c direct (its own "jump": []). */
function inventory(edit: (inv: Inventory) => void = () => {}): LoadedInventory {
  const data: Inventory = {
    version: 1,
    defaults: {
      ssh: {
        keyFile: 'id',
        knownHostsFile: 'known_hosts',
        connectTimeoutMs: 1500,
        jump: [
          { name: 'b1', address: '127.0.0.1', port: b1.port },
          { name: 'b2', address: '127.0.0.1', port: b2.port },
        ],
      },
    },
    pairs: [
      {
        name: 'p',
        primary: 'node-a',
        nodes: [
          { name: 'node-a', address: '127.0.0.1', ssh: { port: a.port } },
          { name: 'node-b', address: '127.0.0.1', ssh: { port: b.port } },
          { name: 'node-c', address: '127.0.0.1', ssh: { port: c.port, jump: [] } },
        ],
      },
    ],
  }
  edit(data)
  return { file: path.join(dir, 'inv.json'), dir, data }
}

async function run(inv: LoadedInventory, nodes = ['node-a', 'node-b', 'node-c']) {
  const pool = new SshPool(inv)
  try {
    const got = await Promise.all(
      nodes.map((n) =>
        pool
          .session(inv.data.pairs[0], n)
          .run(['hostname'])
          .then(
            (r) => r.stdout.trim(),
            (e: unknown) => e,
          ),
      ),
    )
    return { got: Object.fromEntries(nodes.map((n, i) => [n, got[i]])) as Record<string, string | RemoteError>, bastions: pool.bastions() }
  } finally {
    pool.close()
  }
}
const err = (x: unknown): RemoteError => {
  assert.instance(x, RemoteError, String(x))
  return x as RemoteError
}
const reset = () => {
  for (const h of [b1, b2, a, b, c]) {
    h.forwards.length = 0
    h.connections = 0
  }
}

test("sshSettings: hops inherit the node's user and key, a hop's own key resolves from the inventory; the list is replaced, not merged", () => {
  const inv = inventory((d) => {
    d.defaults!.ssh!.user = 'ops'
    d.defaults!.ssh!.jump![1] = { ...d.defaults!.ssh!.jump![1], user: 'jump', keyFile: 'other' }
  })
  const [pa, pc] = [inv.data.pairs[0].nodes[0], inv.data.pairs[0].nodes[2]].map((n) => sshSettings(inv, inv.data.pairs[0], n))
  assert.equal(
    pa.jump.map((h) => [h.label, h.user, h.keyFile, h.port]),
    [
      ['b1', 'ops', path.join(dir, 'id'), b1.port],
      ['b2', 'jump', path.join(dir, 'other'), b2.port],
    ],
  )
  assert.equal(pc.jump, [])
})

test('two hops: each node behind them answers with its own pinned key, one connection per bastion for all of them', async () => {
  pins()
  reset()
  const { got, bastions } = await run(inventory())
  assert.equal(got, { 'node-a': 'node-a', 'node-b': 'node-b', 'node-c': 'node-c' })
  assert.equal(
    bastions.map((j) => [j.hop.label, j.connects]),
    [
      ['b1', 1],
      ['b2', 1],
    ],
  )
  assert.equal(b1.forwards, [b2.port], 'b1 carried one connection: to b2')
  assert.equal(b2.forwards.sort(), [a.port, b.port].sort(), 'b2 carried one per node behind it')
  assert.equal([b1.connections, b2.connections, c.connections], [1, 1, 1], 'node-c was reached directly')
})

test("the second bastion's key pinned wrong: host-key mismatch at b2, after b1 passed; the nodes never asked", async () => {
  pins({ b2: pin(b2, a.key) })
  reset()
  const { got } = await run(inventory(), ['node-a', 'node-b'])
  for (const n of ['node-a', 'node-b']) {
    const e = err(got[n])
    assert.ok(e.hostKeyMismatch, n)
    assert.is(e.hop, 'b2')
    assert.is(e.node, n)
    assert.match(e.message, `${n} (127.0.0.1): via bastion b2 (127.0.0.1): HOST KEY MISMATCH: expected ${a.key.fingerprint}, presented ${b2.key.fingerprint}`)
    assert.match(hint(e), "verify the bastion b2's identity")
  }
  assert.equal([b1.connections, a.connections, b.connections], [1, 0, 0], 'b1 connected once; nothing was sent to the nodes')
})

test('a bastion with no pin at all is refused (never trusted on first use)', async () => {
  pins({ b1: '# b1 not pinned' })
  const { got } = await run(inventory(), ['node-a'])
  const e = err(got['node-a'])
  assert.ok(e.hostKeyMismatch)
  assert.is(e.hop, 'b1')
  assert.match(e.message, 'host key not pinned')
})

test("the node's own key is still checked behind the bastions", async () => {
  pins({ 'node-a': pin(a, b.key) })
  const { got } = await run(inventory(), ['node-a', 'node-b'])
  const e = err(got['node-a'])
  assert.ok(e.hostKeyMismatch)
  assert.is(e.hop, undefined, 'the bastions were fine; node-a is not the host pinned')
  assert.match(e.message, /^node-a \(127\.0\.0\.1\): HOST KEY MISMATCH/)
  assert.is(got['node-b'], 'node-b')
})

test('the second bastion unreachable through the first: names b2 and the hop it was tried through', async () => {
  pins()
  const inv = inventory((d) => {
    d.defaults!.ssh!.jump![1].port = dead
  })
  const { got } = await run(inv, ['node-a', 'node-b'])
  for (const n of ['node-a', 'node-b']) {
    const e = err(got[n])
    assert.ok(e.unreachable, n)
    assert.is(e.hop, 'b2')
    assert.match(e.message, `${n} (127.0.0.1): via bastion b2 (127.0.0.1): unreachable on port ${dead} through bastion b1 (127.0.0.1)`)
    assert.match(hint(e), "check the bastion b2's power")
  }
})

test('the first bastion down: every node behind it unreachable at b1, one attempt for all', async () => {
  pins()
  const inv = inventory((d) => {
    d.defaults!.ssh!.jump![0].port = dead
  })
  const { got } = await run(inv)
  for (const n of ['node-a', 'node-b']) {
    const e = err(got[n])
    assert.ok(e.unreachable && e.hop === 'b1', n)
    assert.match(e.message, `via bastion b1 (127.0.0.1): unreachable on port ${dead}: ECONNREFUSED`)
  }
  assert.is(got['node-c'], 'node-c', 'a direct node does not care')
})

test('a node down behind the bastions: unreachable naming the node, the bastions fine', async () => {
  pins()
  const inv = inventory((d) => {
    d.pairs[0].nodes[1].ssh!.port = dead
  })
  const { got } = await run(inv, ['node-a', 'node-b'])
  assert.is(got['node-a'], 'node-a')
  const e = err(got['node-b'])
  assert.ok(e.unreachable)
  assert.is(e.hop, undefined)
  assert.match(e.message, `node-b (127.0.0.1): unreachable on port ${dead} through bastion b2 (127.0.0.1): `)
  assert.match(hint(e), "check the node's power")
})

test("a bastion that forwards nowhere (AllowTcpForwarding no): the bastion's fault, not the node's", async () => {
  pins()
  // node-c's server answers SSH but has no forwarding at all.
  const inv = inventory((d) => {
    d.defaults!.ssh!.jump = [{ name: 'nofwd', address: '127.0.0.1', port: c.port }]
  })
  const { got } = await run(inv, ['node-a'])
  const e = err(got['node-a'])
  assert.ok(e.unreachable)
  assert.is(e.hop, 'nofwd')
  assert.match(e.message, `node-a (127.0.0.1): via bastion nofwd (127.0.0.1): does not forward to 127.0.0.1 port ${a.port}: administratively prohibited`)
})

test("a bastion that refuses the controller's key: authentication failed at that bastion", async () => {
  pins()
  const inv = inventory((d) => {
    d.defaults!.ssh!.jump![0].keyFile = 'stranger'
  })
  const { got } = await run(inv, ['node-a'])
  const e = err(got['node-a'])
  assert.ok(e.authFailed)
  assert.not.ok(e.unreachable)
  assert.is(e.hop, 'b1')
  assert.match(e.message, `via bastion b1 (127.0.0.1): authentication as root failed (key ${path.join(dir, 'stranger')})`)
})

test.run()
