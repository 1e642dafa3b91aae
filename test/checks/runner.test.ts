// The runner against a real lab pair: real SSH, one node cut off for real (labFault isolate),
// so "unreachable" is what ssh2 and the kernel say, not what a fake was told to say.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { selectChecks } from '../../lib/checks/registry.ts'
import { verifyPair } from '../../lib/checks/runner.ts'
import { failureDetail, unreachableResult } from '../../lib/outcome.ts'
import type { Check } from '../../lib/checks/types.ts'
import { RefusedError, RemoteError, hint, type RemoteErrorInit } from '../../lib/errors.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'

let lab: TestLab
let pair: Pair
const STATE = '/var/lib/hapair/demo'
const LOG = '/var/log/app/error.log'
test.before(async () => {
  lab = await startTestLab()
  pair = lab.inv.data.pairs[0]
})
test.after(async () => {
  await lab?.down()
})

const sh = async (node: string, script: string) => {
  const r = await lab.exec(node, ['sh', '-c', script])
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}
/** A fresh pool per run: a cut link leaves dead connections behind. */
async function verify(p: Pair, checks: Check[], opts: { record?: boolean } = {}) {
  const pool = new SshPool(lab.inv)
  try {
    return await verifyPair(lab.inv, p, pool, checks, opts)
  } finally {
    pool.close()
  }
}
const checks = selectChecks(['paths', 'identical-files', 'error-log'])

test('an unreachable node fails every check with why; the reachable one is still checked', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  let r
  try {
    r = await verify(pair, checks, { record: true })
  } finally {
    await labFault(lab.inv, 'heal', 'node-b')
  }
  // Registry order, each check reporting every node of the pair in inventory order.
  assert.equal(
    r.map((x) => `${x.node}/${x.check}/${x.ok}`),
    [
      'node-a/paths/true',
      'node-b/paths/false',
      'node-a/identical-files/true',
      'node-b/identical-files/false',
      'node-a/error-log/true',
      'node-b/error-log/false',
    ],
    JSON.stringify(r, null, 1),
  )
  for (const x of r.filter((y) => y.node === 'node-b')) assert.match(x.detail, /^unreachable: node-b .*: check the node's power, network and sshd$/)
  // The summary went to the node that could be reached.
  const summary = JSON.parse(await sh('node-a', `cat ${STATE}/verify.json`))
  assert.is(summary.ok, false)
  assert.equal(summary.failed, ['node-b/paths', 'node-b/identical-files', 'node-b/error-log'])
})

test('error-log remembers where it stopped: a new ERROR line fails once, then the log is clean again', async () => {
  const only = selectChecks(['error-log'])
  await sh('node-a', `echo 'ERROR disk full' >> ${LOG}`)
  const a = (await verify(pair, only)).find((x) => x.node === 'node-a')!
  assert.is(a.ok, false)
  assert.match(a.detail, /^app: 1 line since \S+ match: "ERROR disk full"; read .*error\.log on node-a/)
  const offsets = JSON.parse(await sh('node-a', `cat ${STATE}/log-offsets.json`))
  assert.is(offsets.logs.app.offset, Number((await sh('node-a', `stat -c %s ${LOG}`)).trim()))
  const again = (await verify(pair, only)).find((x) => x.node === 'node-a')!
  assert.is(again.ok, true, again.detail)
  assert.match(again.detail, /app: 0 new lines since/)
})

test('a declared error log that does not exist fails with where to look', async () => {
  const gone = { ...pair, errorLogs: [{ name: 'gone', path: '/var/log/app/nope.log', patterns: ['ERROR'] }] } as Pair
  const [a] = await verify(gone, selectChecks(['error-log']))
  assert.is(a.ok, false)
  assert.match(a.detail, /^gone: .*nope\.log does not exist: check the path in the inventory$/)
})

test('a check that breaks reports on every node and does not stop the others', async () => {
  const broken: Check = {
    name: 'broken',
    summary: 'x',
    run: async () => {
      throw new Error('boom')
    },
  }
  const refusing: Check = {
    name: 'refusing',
    summary: 'x',
    run: async () => {
      throw new RefusedError('driver says no')
    },
  }
  const r = await verify(pair, [broken, refusing, ...selectChecks(['paths'])])
  assert.equal(
    r.map((x) => `${x.node}/${x.check}/${x.ok}`),
    ['node-a/broken/false', 'node-b/broken/false', 'node-a/refusing/false', 'node-b/refusing/false', 'node-a/paths/true', 'node-b/paths/true'],
  )
  assert.match(r[0].detail, /^internal error \(a bug in hapair, please report it\): Error: boom/)
  assert.is(r[2].detail, 'error: driver says no')
})

test('without record the summary on the nodes is left alone', async () => {
  for (const n of ['node-a', 'node-b']) await sh(n, `rm -f ${STATE}/verify.json`)
  await verify(pair, selectChecks(['paths']))
  for (const n of ['node-a', 'node-b']) assert.is((await sh(n, `ls ${STATE}/verify.json 2>/dev/null || true`)).trim(), '', `${n} got a summary`)
  await verify(pair, selectChecks(['paths']), { record: true })
  for (const n of ['node-a', 'node-b']) assert.ok(JSON.parse(await sh(n, `cat ${STATE}/verify.json`)).ok, `with record, ${n} has the summary`)
})

// The advice follows the error's flags; a message that merely mentions a host key or
// authentication (a command's stderr, say) does not change it.
const at = { node: 'node-b', host: '10.0.0.2' }
const hints: [string, string, Partial<RemoteErrorInit>, RegExp][] = [
  ['unreachable', 'unreachable on port 22: ETIMEDOUT', { unreachable: true, timedOut: true }, /power, network and sshd/],
  ['host key mismatch', 'HOST KEY MISMATCH: expected SHA256:a, presented SHA256:b', { hostKeyMismatch: true }, /identity out of band/],
  ['host key not pinned', 'host key not pinned: presented SHA256:b', { hostKeyMismatch: true }, /identity out of band/],
  ['authentication', 'authentication as root failed (key /k)', { authFailed: true }, /authorized_keys/],
  [
    'text says host key, flags say unreachable',
    'unreachable: no host key exchange (authentication never started)',
    { unreachable: true },
    /power, network and sshd/,
  ],
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
