// `failover … | head -1`: the reader goes away after the first line. The failover must still
// run every step to the end (VIP moved, records naming the new node) and exit 0: a closed
// stdout never interrupts an operation.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { activeView } from '../../lib/active.ts'
import { runFailover } from '../../lib/failover/run.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { AUDIT_LOG } from '../helpers/playbook.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
let lab: TestLab
test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

const pair = () => lab.inv.data.pairs[0]
async function activeOf(): Promise<{ active: string; epoch: number }> {
  const pool = new SshPool(lab.inv)
  try {
    const v = await activeView(pool, pair())
    return { active: v.active, epoch: v.epoch }
  } finally {
    pool.close()
  }
}

/** Runs a playbook whose stdout reader closes after the first chunk, like `| head -1`. */
function withHeadOne(args: string[]): Promise<{ code: number | null; signal: string | null; first: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HAPAIR_AUDIT_LOG: AUDIT_LOG }
    delete env.FORCE_COLOR
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let first = ''
    let stderr = ''
    child.stdout.once('data', (d) => {
      first = String(d).split('\n')[0]
      child.stdout.destroy()
    })
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, first, stderr })
    })
  })
}

test('failover with its stdout closed after the first line: every step runs, exit 0, VIP and records on node-b', async () => {
  const before = await activeOf()
  assert.is(before.active, 'node-a')
  const r = await withHeadOne(['playbooks/failover.ts', '--inventory', lab.file, '--yes', '--to', 'node-b'])
  assert.ok(r.first.length > 0, 'the reader saw a first line')
  assert.is(r.signal, null, r.stderr)
  assert.is(r.code, 0, r.stderr)
  assert.not.match(r.stderr, /EPIPE|internal error/)
  const vip = pair().floatingIps![0].address
  assert.equal(await lab.holders(vip), ['node-b'])
  const after = await activeOf()
  assert.is(after.active, 'node-b')
  assert.ok(after.epoch > before.epoch, `epoch moved: ${before.epoch} -> ${after.epoch}`)
})

test.after.each(async () => {
  // Back to node-a, so the lab ends as it started.
  const pool = new SshPool(lab.inv)
  try {
    if ((await activeView(pool, pair())).active !== 'node-a') {
      const r = await runFailover(lab.inv, pool, pair(), { operation: 'failover', to: 'node-a', force: true, breakLock: true, resolve: true })
      assert.ok(r.ok, r.error)
    }
  } finally {
    pool.close()
  }
})

test.run()
