// Liveness whatever the network does: a node isolated in the middle of a run never keeps the
// process alive after its report (a polite close on a dead link waits ~15 min in FIN-WAIT-1),
// a command on a cut link fails within its timeout plus a second, and a remote command's
// output is bounded.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RemoteError } from '../lib/errors.ts'
import { labFault } from '../lib/lab/index.ts'
import { SshPool } from '../lib/ssh.ts'
import { startTestLab, type TestLab } from './helpers/lab.ts'
import { AUDIT_LOG } from './helpers/playbook.ts'
import { script } from './sync/_lab.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const MB = 1024 * 1024
let lab: TestLab
test.before(async () => {
  lab = await startTestLab()
  await script(lab, 'node-a', `head -c ${3 * MB} /dev/urandom > /srv/app/big.bin`)
})
test.after(async () => {
  await lab?.exec('node-a', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {})
  await labFault(lab.inv, 'heal', 'node-b').catch(() => {})
  await lab?.down()
})

const pair = () => lab.inv.data.pairs[0]
const address = (n: string) => pair().nodes.find((x) => x.name === n)!.address
/** node-a's traffic to one node at 8 Mbit/s, so a transfer lasts long enough to be cut. */
const slow = (to: string) =>
  script(
    lab,
    'node-a',
    `set -e
  tc qdisc add dev eth0 root handle 1: htb default 10 r2q 100000
  tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit
  tc class add dev eth0 parent 1: classid 1:20 htb rate 8mbit ceil 8mbit
  tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst "$1/32" flowid 1:20`,
    address(to),
  )
async function until(what: string, fn: () => Promise<boolean>, ms = 15000) {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

interface Timed {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  lastOutputAt: number
  exitedAt: number
}
/** A playbook as cron runs it, with the time its last output came and the time it exited. */
function timedPlaybook(name: string, args: string[], killAfterMs = 60_000): { started: number; done: Promise<Timed> } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HAPAIR_AUDIT_LOG: AUDIT_LOG }
  delete env.FORCE_COLOR
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', `playbooks/${name}.ts`, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let lastOutputAt = 0
  child.stdout.on('data', (d) => {
    stdout += d
    lastOutputAt = Date.now()
  })
  child.stderr.on('data', (d) => {
    stderr += d
    lastOutputAt = Date.now()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  const done = new Promise<Timed>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, lastOutputAt, exitedAt: Date.now() })
    })
  })
  return { started, done }
}

test('a target isolated mid-sync: the report comes (exit 4) and the process exits within a second or two of it', async () => {
  await slow('node-b')
  try {
    const run = timedPlaybook('sync', ['--inventory', lab.file, '--json', '--timeout', '3', '--to', 'node-b'])
    await until('the transfer to node-b to start', async () => {
      const r = await lab.exec('node-b', [
        'sh',
        '-c',
        'for f in /srv/app/.big.bin.* /srv/app/.~tmp~/big.bin; do [ -f "$f" ] && stat -c %s "$f" && exit 0; done; echo -1',
      ])
      return Number(r.stdout.trim().split('\n')[0]) > 128 * 1024
    })
    await labFault(lab.inv, 'isolate', 'node-b')
    const r = await run.done
    assert.is(r.signal, null, `killed: still alive ${Date.now() - run.started} ms after the start\n${r.stdout}\n${r.stderr}`)
    assert.is(r.code, 4, r.stdout + r.stderr)
    assert.match(r.stdout, /"exitCode": 4/)
    const lingered = r.exitedAt - r.lastOutputAt
    assert.ok(lingered < 2000, `exited ${lingered} ms after its report`)
  } finally {
    await lab.exec('node-a', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {})
    await labFault(lab.inv, 'heal', 'node-b')
  }
})

test('status with a node isolated after connecting: it exits within the connect timeout plus a second or two of its report', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  try {
    const r = await timedPlaybook('status', ['--inventory', lab.file, '--json']).done
    assert.is(r.signal, null, r.stderr)
    assert.is(r.code, 1, r.stdout + r.stderr)
    assert.ok(r.exitedAt - r.lastOutputAt < 2000, `exited ${r.exitedAt - r.lastOutputAt} ms after its report`)
  } finally {
    await labFault(lab.inv, 'heal', 'node-b')
  }
})

test('a command whose link is cut fails within its timeout plus about a second (the dead link is destroyed, not waited on)', async () => {
  const pool = new SshPool(lab.inv)
  const s = pool.session(pair(), 'node-b')
  try {
    await s.run(['true'])
    const running = s.run(['sleep', '30'], { timeoutMs: 1500 }).catch((e) => e)
    await new Promise((r) => setTimeout(r, 200))
    await labFault(lab.inv, 'isolate', 'node-b')
    const t0 = Date.now()
    const e = await running
    assert.instance(e, RemoteError)
    assert.ok(e.timedOut, e.message)
    assert.ok(Date.now() - t0 < 1500 + 1500, `failed ${Date.now() - t0} ms after the cut`)
  } finally {
    pool.close()
    await labFault(lab.inv, 'heal', 'node-b')
  }
})

test('output over maxBytes fails the command with a clear error, never one unbounded string', async () => {
  const pool = new SshPool(lab.inv)
  try {
    const e = await pool
      .session(pair(), 'node-a')
      .run(['sh', '-c', `head -c ${20 * MB} /dev/zero; sleep 30`], { maxBytes: MB })
      .catch((x) => x)
    assert.instance(e, RemoteError)
    assert.match(e.message, /output over 1048576 bytes, stopped/)
    assert.ok(e.durationMs < 5000, `stopped at once, not after the command (${e.durationMs} ms)`)
    const again = await pool.session(pair(), 'node-a').run(['echo', 'still here'])
    assert.is(again.stdout, 'still here\n', 'the connection stays usable')
  } finally {
    pool.close()
  }
})

test.run()
