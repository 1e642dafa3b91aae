// The runner with every node on this machine (a local pool) and one node powered off.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { selectChecks } from '../../lib/checks/registry.ts'
import { unreachableResult, verifyPair } from '../../lib/checks/runner.ts'
import { failureDetail } from '../../lib/checks/node.ts'
import type { Check } from '../../lib/checks/types.ts'
import { RefusedError, RemoteError, hint, type RemoteErrorInit } from '../../lib/errors.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { localPool } from './_local.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-runner-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))
mkdirSync(path.join(dir, 'srv'))
writeFileSync(path.join(dir, 'secret.key'), 'k')
writeFileSync(path.join(dir, 'error.log'), 'INFO start\n')

const pair = {
  name: 'demo', primary: 'node-a', stateDir: path.join(dir, 'state'),
  nodes: [{ name: 'node-a', address: '10.0.0.1' }, { name: 'node-b', address: '10.0.0.2' }],
  preconditions: { paths: [{ path: path.join(dir, 'srv'), type: 'dir' }], identicalFiles: [path.join(dir, 'secret.key')] },
  errorLogs: [{ name: 'app', path: path.join(dir, 'error.log'), patterns: ['ERROR'] }],
} as unknown as Pair
const inv = { file: path.join(dir, 'inv.json'), dir, data: { version: 1, pairs: [pair] } } as any
const checks = selectChecks(['paths', 'identical-files', 'error-log'])

test('an unreachable node fails every check with why; the reachable one is still checked', async () => {
  const r = await verifyPair(inv, pair, localPool(new Set(['node-b'])), checks, { record: true })
  // Registry order, each check reporting every node of the pair in inventory order.
  assert.equal(r.map((x) => `${x.node}/${x.check}/${x.ok}`), [
    'node-a/paths/true', 'node-b/paths/false',
    'node-a/identical-files/true', 'node-b/identical-files/false',
    'node-a/error-log/true', 'node-b/error-log/false',
  ])
  for (const x of r.filter((y) => y.node === 'node-b')) assert.match(x.detail, /^unreachable: node-b .*EHOSTUNREACH: check the node's power, network and sshd$/)
  const summary = JSON.parse(readFileSync(path.join(dir, 'state', 'verify.json'), 'utf8'))
  assert.is(summary.ok, false)
  assert.equal(summary.failed, ['node-b/paths', 'node-b/identical-files', 'node-b/error-log'])
})

test('error-log remembers where it stopped: a new ERROR line fails once, then the log is clean again', async () => {
  const pool = localPool(new Set(['node-b']))
  const only = selectChecks(['error-log'])
  appendFileSync(path.join(dir, 'error.log'), 'ERROR disk full\n')
  const [a] = await verifyPair(inv, pair, pool, only)
  assert.is(a.ok, false)
  assert.match(a.detail, /^app: 1 line since \S+ match: "ERROR disk full"; read .*error\.log on node-a/)
  const offsets = JSON.parse(readFileSync(path.join(dir, 'state', 'log-offsets.json'), 'utf8'))
  assert.is(offsets.logs.app.offset, readFileSync(path.join(dir, 'error.log')).length)
  const [again] = await verifyPair(inv, pair, pool, only)
  assert.is(again.ok, true, again.detail)
  assert.match(again.detail, /app: 0 new lines since/)
})

test('a declared error log that does not exist fails with where to look', async () => {
  const gone = { ...pair, errorLogs: [{ name: 'gone', path: path.join(dir, 'nope.log'), patterns: ['ERROR'] }] } as Pair
  const [a] = await verifyPair(inv, gone, localPool(new Set(['node-b'])), selectChecks(['error-log']))
  assert.is(a.ok, false)
  assert.match(a.detail, /^gone: .*nope\.log does not exist: check the path in the inventory$/)
})

test('a check that breaks reports on every node and does not stop the others', async () => {
  const broken: Check = { name: 'broken', summary: 'x', run: async () => { throw new Error('boom') } }
  const refusing: Check = { name: 'refusing', summary: 'x', run: async () => { throw new RefusedError('driver says no') } }
  const r = await verifyPair(inv, pair, localPool(), [broken, refusing, ...selectChecks(['paths'])])
  assert.equal(r.map((x) => `${x.node}/${x.check}/${x.ok}`), ['node-a/broken/false', 'node-b/broken/false', 'node-a/refusing/false', 'node-b/refusing/false', 'node-a/paths/true', 'node-b/paths/true'])
  assert.match(r[0].detail, /^internal error \(a bug in hapair, please report it\): Error: boom/)
  assert.is(r[2].detail, 'error: driver says no')
})

test('without record the summary on the nodes is left alone', async () => {
  rmSync(path.join(dir, 'state', 'verify.json'))
  await verifyPair(inv, pair, localPool(), selectChecks(['paths']))
  assert.throws(() => readFileSync(path.join(dir, 'state', 'verify.json')))
})

// The advice follows the error's flags; a message that merely mentions a host key or
// authentication (a command's stderr, say) does not change it.
const at = { node: 'node-b', host: '10.0.0.2' }
const hints: [string, string, Partial<RemoteErrorInit>, RegExp][] = [
  ['unreachable', 'unreachable on port 22: ETIMEDOUT', { unreachable: true, timedOut: true }, /power, network and sshd/],
  ['host key mismatch', 'HOST KEY MISMATCH: expected SHA256:a, presented SHA256:b', { hostKeyMismatch: true }, /identity out of band/],
  ['host key not pinned', 'host key not pinned: presented SHA256:b', { hostKeyMismatch: true }, /identity out of band/],
  ['authentication', 'authentication as root failed (key /k)', { authFailed: true }, /authorized_keys/],
  ['text says host key, flags say unreachable', 'unreachable: no host key exchange (authentication never started)', { unreachable: true }, /power, network and sshd/],
]
for (const [name, why, flags, re] of hints) {
  test(`hint by flags: ${name}`, () => {
    const e = new RemoteError(why, { ...at, ...flags })
    assert.match(hint(e), re)
    assert.match(unreachableResult(pair, 'node-b', 'paths', e).detail, re)
    assert.match(failureDetail(e), re)
  })
}
test('hint: a command that failed on a reachable node gets no connection advice', () => {
  const e = new RemoteError('exit 1: host key verification failed', { ...at, command: 'rsync', exitCode: 1 })
  assert.is(hint(e), '')
  assert.is(failureDetail(e), `error: ${e.message}`)
})

test.run()
