// Runs the uvu suite one test file per process, three at a time, and prints one combined
// summary. Most of the suite's time is lab tests waiting on real timeouts, links and processes,
// not on the CPU, and every test file has its own lab slot, so three at once take about a third
// of the wall time. Each file's output is printed whole when it ends.
//
// One process per file with a deadline, because a hung file must cost its own deadline and a
// clear "TIMED OUT" line naming it, not the whole CI budget: a shard that hung once took the
// run past CI's 90 minutes with no word of which file. A file past FILE_TIMEOUT_S gets SIGTERM
// (the lab helper's safety net tears its labs down), SIGKILL after a grace; files not started
// when the run passes BUDGET_S are reported as not run. Both count as failures.
//
// --coverage (CI): every file writes V8 coverage (NODE_V8_COVERAGE reaches every node process
// they start, the spawned playbooks included), c8 merges it into one report of lib/, playbooks/
// and stacks/ (.c8rc.json), and the run fails below FLOOR. One run of the suite, not two.
//
// Arguments other than --coverage are regular expressions: only files whose path under test/
// matches one of them run (`node scripts/test.mjs '^watch/'`).
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

// Started first, so the long files do not end up last on one worker: switchover, the
// watcher's matrix, the lease guard, PostgreSQL, the follower (long, mostly waiting on timers).
const LONG = /^(failover|lock|liveness|watch|postgres|guard|sync\/follow)/
const WORKERS = Number(process.env.HAPAIR_TEST_WORKERS ?? 3)
const FILE_TIMEOUT_S = Number(process.env.HAPAIR_TEST_FILE_TIMEOUT_S ?? 900)
const BUDGET_S = Number(process.env.HAPAIR_TEST_BUDGET_S ?? 3600)
const GRACE_MS = 60_000
// Percent of lines and branches of the whole suite, lab tests included: a few points under the
// figure of 2 December 2026 (lines 92.3, branches 87.2). See docs/design.md "Coverage" for how c8 counts.
const FLOOR = { lines: 89, branches: 84 }

const args = process.argv.slice(2)
const coverage = args.includes('--coverage')
const only = args.filter((a) => a !== '--coverage').map((a) => new RegExp(a))
const covDir = coverage ? mkdtempSync(path.join(tmpdir(), 'hapair-coverage-')) : undefined
// Some tests run a playbook as an unprivileged user (lab "not root"): it must be able to write
// its coverage too, or Node's EACCES warning lands in the stderr the test compares.
if (covDir) chmodSync(covDir, 0o1777)
const env = coverage ? { ...process.env, NODE_V8_COVERAGE: covDir } : process.env
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '')
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const files = readdirSync('test', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => only.length === 0 || only.some((re) => re.test(f)))
  .sort((a, b) => Number(LONG.test(b)) - Number(LONG.test(a)) || a.localeCompare(b))

const count = (out, word) =>
  Number(
    /^\s*(\d+)/.exec(
      strip(out)
        .split('\n')
        .filter((l) => l.trim().startsWith(`${word}:`))
        .at(-1)
        ?.split(':')[1] ?? '',
    )?.[1] ?? NaN,
  )

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    // detached: its own process group, so a timeout ends the file's children (playbooks, ssh) too.
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', `^${escape(file)}$`, '--no-color'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      detached: true,
    })
    let out = ''
    let timedOut = false
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    const signal = (sig) => {
      try {
        process.kill(-child.pid, sig)
      } catch {
        /* already gone */
      }
    }
    const kill = setTimeout(() => {
      timedOut = true
      signal('SIGTERM')
      setTimeout(() => signal('SIGKILL'), GRACE_MS).unref()
    }, FILE_TIMEOUT_S * 1000)
    let settled = false
    const settle = (code, note = '') => {
      if (settled) return
      settled = true
      clearTimeout(kill)
      resolve({ file, code, out: out + note, timedOut, seconds: (Date.now() - t0) / 1000 })
    }
    child.on('close', (code) => settle(code))
    // 'close' waits for every holder of the output pipes: a daemon the file started and left
    // (in its own process group, so no kill reaches it) would hold the run forever. The file's
    // own exit is what counts; its output gets a few seconds to drain.
    // A process left behind is a teardown defect: the file fails.
    child.on('exit', (code, sig) => {
      clearTimeout(kill)
      setTimeout(() => {
        signal('SIGKILL')
        child.stdout.destroy()
        child.stderr.destroy()
        settle(1, `\nLEFT RUNNING: ${file} exited (${code ?? sig}) but a process it started still holds its output\n`)
      }, 5000).unref()
    })
  })
}

const started = Date.now()
const results = []
const notRun = []
const queue = [...files]
async function worker() {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if ((Date.now() - started) / 1000 > BUDGET_S) {
      notRun.push(file)
      continue
    }
    const r = await runFile(file)
    results.push(r)
    process.stdout.write(r.out.endsWith('\n') ? r.out : `${r.out}\n`)
    if (r.timedOut) process.stdout.write(`TIMED OUT: ${file} after ${FILE_TIMEOUT_S} s (killed; the output above is what it printed)\n`)
    else if (r.code !== 0) process.stdout.write(`FAILED: ${file} (exit ${r.code}, ${Math.round(r.seconds)} s)\n`)
  }
}
await Promise.all(Array.from({ length: WORKERS }, worker))

let total = 0
let passed = 0
const bad = []
for (const r of results) {
  const t = count(r.out, 'Total')
  const p = count(r.out, 'Passed')
  // A file that died before its summary, or was killed, counts as one failed test at least.
  const ok = r.code === 0 && !r.timedOut && !Number.isNaN(t) && !Number.isNaN(p)
  total += Number.isNaN(t) ? 1 : Math.max(t, ok ? t : p + 1)
  passed += Number.isNaN(p) ? 0 : p
  if (!ok) bad.push(r)
}
total += notRun.length
const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 8)
console.log(`\nslowest files: ${slowest.map((r) => `${r.file} ${Math.round(r.seconds)} s`).join(', ')}`)
for (const r of bad) console.log(`${r.timedOut ? 'timed out' : 'failed'}: ${r.file}`)
if (notRun.length) console.log(`not run (past the ${BUDGET_S} s budget): ${notRun.join(', ')}`)
console.log(`\nall files (${files.length} files, ${WORKERS} at a time, ${Math.round((Date.now() - started) / 1000)} s):`)
console.log(`  Total:     ${total}`)
console.log(`  Passed:    ${passed}`)
let covered = true
if (coverage) {
  const t0 = Date.now()
  const r = spawnSync(
    process.execPath,
    [
      'node_modules/c8/bin/c8.js',
      'report',
      '--temp-directory',
      covDir,
      '--reporter=text-summary',
      '--check-coverage',
      `--lines=${FLOOR.lines}`,
      `--branches=${FLOOR.branches}`,
      '--functions=0',
      '--statements=0',
    ],
    { stdio: 'inherit' },
  )
  rmSync(covDir, { recursive: true, force: true })
  console.log(
    `coverage floor: lines ${FLOOR.lines}%, branches ${FLOOR.branches}% (report took ${Math.round((Date.now() - t0) / 1000)} s)${r.status === 0 ? '' : ': BELOW THE FLOOR'}`,
  )
  covered = r.status === 0
}
process.exit(bad.length === 0 && notRun.length === 0 && files.length > 0 && covered ? 0 : 1)
