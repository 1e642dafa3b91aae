// The sync playbook as a user runs it, for what needs no lab: every bad input exits 2 with one
// readable line, before any node is contacted. (Lab runs: test/sync/lab-*.test.ts.)
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { InputError } from '../../lib/errors.ts'
import { loadInventory } from '../../lib/inventory/load.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync, type SyncOptions } from '../../lib/sync/index.ts'
import { playbook } from '../helpers/playbook.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-sync-pb-'))
const lab = JSON.parse(readFileSync('inventory/lab.json', 'utf8'))
// Nothing here may reach a node. Belt and braces: unassigned lab addresses (never this
// machine's own network, never a node of a running lab), and a pin file that does not exist,
// so a connect attempted by mistake fails before any packet, as a RemoteError these tests catch.
function inventory(name: string, edit: (j: any) => void): string {
  const j = structuredClone(lab)
  delete j.lab
  j.pairs[0].fencing = { driver: 'none' } // the lab's fencing needs the lab block
  j.pairs[0].nodes[0].address = '198.51.100.29'
  j.pairs[0].nodes[1].address = '198.51.100.30'
  j.defaults.ssh.knownHostsFile = 'no-such-known_hosts'
  edit(j)
  const f = path.join(dir, name)
  writeFileSync(f, JSON.stringify(j))
  return f
}
const good = inventory('good.json', () => {})
const noItems = inventory('no-items.json', (j) => { j.pairs[0].sync.items = [] })
const noPins = inventory('no-pins.json', (j) => { delete j.pairs[0].sync.nodeKnownHostsFile })
const spacedKey = inventory('spaced.json', (j) => { j.pairs[0].sync.nodeKeyFile = '/var/lib/my keys/id' })

// Through the real process: the exit code and one readable line, no stack trace.
const viaProcess: [string, string[], RegExp][] = [
  ['unknown option', ['--inventory', good, '--bogus'], /unknown option: --bogus/],
  ['stray argument', ['--inventory', good, 'node-b'], /unexpected argument "node-b"/],
  ['unknown item', ['--inventory', good, '--item', 'app,nope'], /no sync item "nope" \(items: app, config\)/],
  ['missing inventory', ['--inventory', path.join(dir, 'nope.json')], /cannot read inventory: no such file/],
]
for (const [name, args, want] of viaProcess) test(`exit 2: ${name}`, async () => {
  const r = await playbook('sync', args, { timeoutMs: 20000 })
  assert.is(r.code, 2, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stderr, want)
  assert.not.match(r.stderr, /internal error|at .*\.ts:\d+/, 'no stack trace')
})

// The same checks in-process (faster): each is bad input, found before any node is asked.
const inProcess: [string, string, SyncOptions, RegExp][] = [
  ['unknown target', good, { to: 'node-z' }, /has no node "node-z"/],
  ['unknown bootstrap node', good, { bootstrap: 'node-z' }, /has no node "node-z"/],
  ['unknown --from node', good, { from: 'node-z' }, /has no node "node-z"/],
  ['bootstrap with --to', good, { bootstrap: 'node-b', to: 'node-b' }, /--bootstrap names its own target/],
  ['bootstrap with --item', good, { bootstrap: 'node-b', items: ['app'] }, /--bootstrap copies every item/],
  ['bad timeout', good, { ioTimeoutSec: Number('soon') }, /--timeout must be a positive number of seconds/],
  ['zero timeout', good, { ioTimeoutSec: 0 }, /--timeout must be a positive number/],
  ['no items', noItems, {}, /has no sync items/],
  ['no node known_hosts for the hop', noPins, {}, /nodeKnownHostsFile is required for rsync items/],
  ['key path rsync -e cannot carry', spacedKey, {}, /nodeKeyFile must not contain spaces/],
]
for (const [name, file, opts, want] of inProcess) test(`bad input: ${name}`, async () => {
  const inv = loadInventory(file)
  const pool = new SshPool(inv)
  try {
    await runSync(inv, inv.data.pairs[0], pool, opts)
    assert.unreachable('should have thrown')
  } catch (e) {
    assert.instance(e, InputError)
    assert.is((e as InputError).exitCode, 2)
    assert.match((e as Error).message, want)
  } finally { pool.close() }
})

test('--help prints the usage with the exit codes', async () => {
  const r = await playbook('sync', ['--help'])
  assert.is(r.code, 0)
  assert.match(r.stdout, '--bootstrap NODE')
  assert.match(r.stdout, '4: degraded')
})

test.after(() => rmSync(dir, { recursive: true, force: true }))
test.run()
