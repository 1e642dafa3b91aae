// DROP_STALE_PIDFILE against real processes: a postmaster.pid naming a zombie (a killed process
// its parent has not reaped, as a lab node's postmaster after a power-off) or a PID that is gone
// is removed; one naming a live process is kept. The zombie is made for real: `sh` forks a
// `sleep 0.3`, then execs a `sleep` that never reaps it (the child exits after the exec, so sh
// cannot have reaped it first).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DROP_STALE_PIDFILE } from '../../lib/postgres/exec.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-pidfile-'))
const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
test.after(() => {
  parent.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})
const zombie = new Promise<number>((resolve) => parent.stdout!.once('data', (d) => resolve(Number(String(d).trim()))))

function run(pid: string): { code: number | null; kept: boolean } {
  writeFileSync(path.join(dir, 'postmaster.pid'), `${pid}\n${dir}\n`)
  const r = spawnSync('sh', ['-c', `D=$1; ${DROP_STALE_PIDFILE}`, 'sh', dir])
  return { code: r.status, kept: existsSync(path.join(dir, 'postmaster.pid')) }
}

test('a zombie postmaster: its lock file is removed, the snippet says so', async () => {
  const pid = await zombie
  // Wait until it is a zombie: exited, not reaped.
  for (
    let i = 0;
    i < 100 &&
    !/^Z/.test(
      spawnSync('ps', ['-o', 'stat=', '-p', String(pid)])
        .stdout.toString()
        .trim(),
    );
    i++
  )
    await new Promise((r) => setTimeout(r, 20))
  assert.match(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)]).stdout.toString(), /^Z/)
  assert.equal(run(String(pid)), { code: 1, kept: false })
})

test('a live process: kept', () => {
  assert.equal(run(String(parent.pid)), { code: 0, kept: true })
})

test('a PID that is gone, or no PID: removed only when it names a PID', () => {
  assert.equal(run('4194305'), { code: 1, kept: false })
  assert.equal(run(''), { code: 0, kept: true })
})

test.run()
