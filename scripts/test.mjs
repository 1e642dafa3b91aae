// Runs the uvu suite in two shards at once and prints one combined summary. Most of the
// suite's time is lab tests waiting on real timeouts, links and processes, not on the CPU, and
// every test file has its own lab slot, so two shards finish in about half the wall time.
// Shard 1's output is shown live; shard 2's is printed when it ends. Exit non-zero if either fails.
import { spawn } from 'node:child_process'

// Shard 1: the long switchover suites; shard 2: everything else.
const HEAVY = '^(failover|lock|liveness)'
const uvu = (args) => spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', ...args, '--no-color'], { stdio: ['ignore', 'pipe', 'pipe'] })
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '')

function run(args, live) {
  return new Promise((resolve) => {
    const child = uvu(args)
    let out = ''
    const take = (d) => { out += d; if (live) process.stdout.write(d) }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('close', (code) => resolve({ code, out }))
  })
}
const count = (out, word) => Number(/^\s*(\d+)/.exec(strip(out).split('\n').filter((l) => l.trim().startsWith(`${word}:`)).at(-1)?.split(':')[1] ?? '')?.[1] ?? NaN)

const started = Date.now()
const [a, b] = await Promise.all([run([HEAVY], true), run(['-i', HEAVY], false)])
process.stdout.write(b.out)
const total = count(a.out, 'Total') + count(b.out, 'Total')
const passed = count(a.out, 'Passed') + count(b.out, 'Passed')
console.log(`\nboth shards (${Math.round((Date.now() - started) / 1000)} s):`)
console.log(`  Total:     ${Number.isNaN(total) ? '?' : total}`)
console.log(`  Passed:    ${Number.isNaN(passed) ? '?' : passed}`)
process.exit(a.code === 0 && b.code === 0 && !Number.isNaN(total) ? 0 : 1)
