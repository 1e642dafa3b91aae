// scripts/test.mjs, the runner CI relies on: a hung file costs its own deadline and is named, a
// file that leaves a process holding its output fails instead of holding the run, and the other
// files still run and count. The runner runs as written, in a scratch copy with its own test/.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-runner-'))
mkdirSync(path.join(dir, 'scripts'))
mkdirSync(path.join(dir, 'test'))
copyFileSync('scripts/test.mjs', path.join(dir, 'scripts', 'test.mjs'))
symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'))
const file = (name: string, body: string) =>
  writeFileSync(path.join(dir, 'test', name), `import { test } from 'uvu'\nimport * as assert from 'uvu/assert'\n${body}\ntest.run()\n`)
file('pass.test.ts', "test('one', () => assert.ok(true))\ntest('two', () => assert.ok(true))")
file('fail.test.ts', "test('no', () => assert.is(1, 2))")
file('hang.test.ts', "test('hangs', () => new Promise(() => setInterval(() => {}, 1000)))")
// A grandchild in its own process group with the file's output: 'close' alone would wait 60 s.
const leakPid = path.join(dir, 'leak.pid')
file(
  'leak.test.ts',
  `import { spawn } from 'node:child_process'\nimport { writeFileSync } from 'node:fs'\ntest('leaks', () => { const c = spawn('sleep', ['60'], { stdio: 'inherit', detached: true }); c.unref(); writeFileSync(${JSON.stringify(leakPid)}, String(c.pid)) })`,
)
// The leaked sleep is ours: ended by its PID.
test.after(() => {
  try {
    process.kill(Number(readFileSync(leakPid, 'utf8')), 'SIGKILL')
  } catch {
    /* gone */
  }
  rmSync(dir, { recursive: true, force: true })
})

test('hung, failing and leaking files are named and counted; the others still pass', () => {
  const t0 = Date.now()
  const r = spawnSync(process.execPath, ['scripts/test.mjs'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, HAPAIR_TEST_FILE_TIMEOUT_S: '3' },
    timeout: 60_000,
  })
  const out = r.stdout + r.stderr
  assert.is(r.status, 1, out)
  assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`)
  assert.match(out, 'TIMED OUT: hang.test.ts after 3 s')
  assert.match(out, 'LEFT RUNNING: leak.test.ts')
  assert.match(out, 'FAILED: fail.test.ts')
  assert.not.match(out, /FAILED: pass\.test\.ts|TIMED OUT: pass/)
  // pass 2 + fail 1 + hang (no summary) 1 + leak 1 passed and failed for its leftover.
  assert.match(out, /Total:\s+6\n\s+Passed:\s+3\n/)
})

test('a pattern selects files by their path under test/', () => {
  const r = spawnSync(process.execPath, ['scripts/test.mjs', '^pass'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  assert.is(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /1 files, 3 at a time/)
  assert.match(r.stdout, /Total:\s+2\n\s+Passed:\s+2\n/)
})

test.run()
