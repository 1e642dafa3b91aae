// Hostile SSH files and flags through the real playbooks: exit 2, a located one-line reason, no stack,
// and nothing contacted. The inventory's nodes point at TCP listeners on loopback that count connections.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { playbook, type PlaybookRun } from '../helpers/playbook.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-hostile-args-'))
const servers: Server[] = []
let contacts = 0
let port = 0

async function listen(host: string, p: number): Promise<number> {
  const s = createServer((c) => {
    contacts++
    c.destroy()
  })
  servers.push(s)
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(p, host, () => resolve())
  })
  return (s.address() as { port: number }).port
}

function inventory(name: string, ssh: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const f = path.join(dir, `${name}.json`)
  writeFileSync(
    f,
    JSON.stringify(
      {
        version: 1,
        defaults: { ssh: { port, knownHostsFile: 'known_hosts', connectTimeoutMs: 2000, ...ssh } },
        pairs: [
          {
            name: 'web',
            primary: 'node-a',
            nodes: [
              { name: 'node-a', address: '127.0.0.1' },
              { name: 'node-b', address: '127.0.0.2' },
            ],
            ...extra,
          },
        ],
      },
      null,
      2,
    ),
  )
  return f
}

const STACK = /^\s+at .+:\d+:\d+\)?$/m
function refused(r: PlaybookRun, want: RegExp) {
  assert.is(r.code, 2, `exit ${r.code}\n${r.stdout}\n${r.stderr}`)
  assert.match(r.stderr, want)
  assert.not.match(r.stderr, STACK, r.stderr)
  assert.not.match(r.stderr, /internal error/, r.stderr)
  assert.is(contacts, 0, 'a node was contacted')
}

test.before(async () => {
  port = await listen('127.0.0.1', 0)
  await listen('127.0.0.2', port)
  writeFileSync(path.join(dir, 'known_hosts'), '')
  writeFileSync(path.join(dir, 'shadow'), 'root:$y$j9T$secret:19800:0:99999:7:::\n', { mode: 0o600 })
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id_ed25519')])
  execFileSync('mkfifo', [path.join(dir, 'fifo')])
})

const files: [string, Record<string, unknown>, RegExp][] = [
  ['keyFile /dev/zero', { keyFile: '/dev/zero' }, /: defaults\/ssh\/keyFile: \/dev\/zero: not a regular file \(a character device\)$/m],
  ['keyFile /dev/urandom', { keyFile: '/dev/urandom' }, /: defaults\/ssh\/keyFile: \/dev\/urandom: not a regular file/m],
  ['knownHostsFile /dev/zero', { knownHostsFile: '/dev/zero' }, /: defaults\/ssh\/knownHostsFile: \/dev\/zero: not a regular file/m],
  ['knownHostsFile a FIFO', { knownHostsFile: 'fifo' }, /: defaults\/ssh\/knownHostsFile: .*fifo: not a regular file \(a named pipe \(FIFO\)\)$/m],
  ['keyFile a password file', { keyFile: 'shadow' }, /: defaults\/ssh\/keyFile: .*shadow is not a private key/m],
  ['keyFile the public key', { keyFile: 'id_ed25519.pub' }, /: defaults\/ssh\/keyFile: .*id_ed25519\.pub is a public key/m],
]
for (const [what, ssh, want] of files) {
  test(`status refuses ${what}: exit 2 before any connection, in bounded time`, async () => {
    const r = await playbook('status', ['--inventory', inventory(what.replace(/\W+/g, '-'), ssh)], { timeoutMs: 20_000 })
    refused(r, want)
    assert.not.match(r.stderr, /secret/)
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`)
  })
}

test('validate reports a bad keyFile located, the same as every playbook', async () => {
  const r = await playbook('validate', ['--inventory', inventory('validate-zero', { keyFile: '/dev/zero' })])
  refused(r, /validate-zero\.json: defaults\/ssh\/keyFile: \/dev\/zero: not a regular file/)
})

const flags: [string, string[], RegExp][] = [
  ['--pair --yes (a flag with no value)', ['--pair', '--yes'], /^--pair needs a pair name \(it is followed by --yes\)$/m],
  ['--pair= (an empty value)', ['--pair=', '--yes'], /^--pair needs a pair name$/m],
  ['--to as the last argument', ['--yes', '--to'], /^--to needs a node name \(it is the last argument\)$/m],
  ['--to NODE that is not in the pair', ['--yes', '--to', 'node-z'], /pair web has no node "node-z" \(nodes: node-a, node-b\)/],
]
for (const [what, args, want] of flags) {
  test(`failover refuses ${what}, before the lock and any node`, async () => {
    const key = path.join(dir, 'id_ed25519')
    const r = await playbook('failover', ['--inventory', inventory(`flags-${what.replace(/\W+/g, '-')}`, { keyFile: key }), ...args])
    refused(r, want)
  })
}

test.after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  rmSync(dir, { recursive: true, force: true })
})
test.run()
