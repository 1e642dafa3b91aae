// A key file that is not where the inventory says is the inventory's (or the deployment's)
// fault: exit 2 naming the file, before any socket. Reported as "unreachable … check the node's
// power" it sends the operator to the wrong place (a CI job that wrote its key elsewhere).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT, InputError, RemoteError } from '../lib/errors.ts'
import { loadCheckedInventory } from '../lib/inventory/ssh-files.ts'
import { readPrivateKey } from '../lib/ssh-key.ts'
import { SshPool } from '../lib/ssh.ts'
import { playbook } from './helpers/playbook.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-key-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

// The lab's pair on addresses nothing answers (no lab runs here): a connection attempt would be
// "unreachable"; the key must be looked at before that.
const inv = path.join(dir, 'inventory.json')
const data = JSON.parse(readFileSync('inventory/lab.json', 'utf8'))
delete data.$schema
delete data.lab
for (const p of data.pairs) {
  p.fencing = { driver: 'none' }
  for (const f of p.floatingIps ?? []) f.driver = 'linux'
}
data.defaults.ssh = { ...data.defaults.ssh, keyFile: '.secrets/id_ed25519', knownHostsFile: 'known_hosts', connectTimeoutMs: 500 }
writeFileSync(inv, JSON.stringify(data))
writeFileSync(path.join(dir, 'known_hosts'), '')
const missing = path.join(dir, '.secrets', 'id_ed25519')

test('readPrivateKey: a missing file is bad input naming the file', () => {
  assert.throws(
    () => readPrivateKey(missing),
    (e: unknown) => e instanceof InputError && e.exitCode === EXIT.badInput && (e as Error).message.startsWith(`key file ${missing} does not exist (`),
  )
})

test('a session with a missing key file fails with that, not as an unreachable node', async () => {
  const loaded = loadCheckedInventory(inv) // loading still accepts it: the lab writes its keys after
  const pool = new SshPool(loaded)
  try {
    const e = await pool
      .session(loaded.data.pairs[0], 'node-a')
      .run(['true'])
      .then(
        () => undefined,
        (x) => x,
      )
    assert.instance(e, InputError)
    assert.not.instance(e, RemoteError)
    assert.match(e.message, `key file ${missing} does not exist`)
  } finally {
    pool.close()
  }
})

for (const [name, args] of [
  ['status', []],
  ['verify', ['--check', 'links']],
] as const) {
  test(`${name}: a missing key file is exit 2 "key file … does not exist", no word of power or reachability`, async () => {
    const r = await playbook(name, ['--inventory', inv, ...args])
    assert.is(r.code, EXIT.badInput, r.stdout + r.stderr)
    assert.match(r.stderr, `key file ${missing} does not exist`)
    assert.not.match(r.stdout + r.stderr, /unreachable|power/)
  })
}

test.run()
