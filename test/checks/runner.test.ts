// The runner with every node on this machine (a local pool) and one node powered off.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { selectChecks } from '../../lib/checks/registry.ts'
import { unreachableHint, verifyPair } from '../../lib/checks/runner.ts'
import type { Check } from '../../lib/checks/types.ts'
import { RefusedError } from '../../lib/errors.ts'
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

const hints: [string, RegExp][] = [
  ['node-b (10.0.0.2): unreachable on port 22: ETIMEDOUT', /power, network and sshd/],
  ['node-b (10.0.0.2): HOST KEY MISMATCH: expected SHA256:a, presented SHA256:b', /identity out of band/],
  ['node-b (10.0.0.2): host key not pinned: presented SHA256:b', /identity out of band/],
  ['node-b (10.0.0.2): authentication as root failed (key /k)', /authorized_keys/],
]
for (const [why, re] of hints) test(`unreachableHint: ${why.slice(20, 50)}`, () => assert.match(unreachableHint(why), re))

test.run()
