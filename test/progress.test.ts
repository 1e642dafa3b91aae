// The step meter of verify and backup-verify: what it can honestly say (steps done, bytes that were
// measured, what runs now and for how long), a live line on a terminal, lines at the interval in a log.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PROGRESS_EVERY_MS, progressEveryMs, StepProgress } from '../lib/progress.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('the line: steps done of how many, bytes of finished steps, each running step with its phase and time; no guessed percentage', () => {
  let t = 0
  const m = new StepProgress({ write: () => {}, tty: false, label: 'verify', now: () => t, bytesWord: 'hashed' }, 3)
  const a = m.step('demo sync-drift')
  a.phase('demo sync-drift: hashing app on node-a, node-b')
  t = 4000
  assert.is(m.line(), 'verify: 0 of 3 done, 4 s elapsed; demo sync-drift: hashing app on node-a, node-b, 4 s')
  a.add(3_000_000)
  a.measured({ bytes: 1_000_000 })
  t = 6000
  a.measured({ bytes: 3_000_000 })
  assert.is(m.line(), 'verify: 0 of 3 done (3.00 MB hashed), 6 s elapsed; demo sync-drift: hashing app on node-a, node-b: 3.00 MB so far, 1.00 MB/s, 6 s')
  a.done()
  assert.is(m.line(), 'verify: 1 of 3 done (3.00 MB hashed), 6 s elapsed')
  m.stop()
})

test('a measured total gives a percentage and the time left', () => {
  let t = 0
  const m = new StepProgress({ write: () => {}, tty: false, label: 'backup-verify', now: () => t })
  const s = m.step('node-a app')
  s.phase('node-a app: test restore of app.tar.gz')
  s.measured({ bytes: 0, total: 8_000_000 })
  t = 2000
  s.measured({ bytes: 2_000_000, total: 8_000_000 })
  assert.is(m.line(), 'backup-verify: 0 done, 2 s elapsed; node-a app: test restore of app.tar.gz: 2.00 MB of 8.00 MB (25%), 1.00 MB/s, 6 s left, 2 s')
  s.phase('node-a app: listing what came out')
  assert.is(m.line(), 'backup-verify: 0 done, 2 s elapsed; node-a app: listing what came out, 2 s', "a new phase does not show the last one's bytes")
  m.stop()
})

test('without a terminal: a plain line at each interval while a step runs, none after', async () => {
  let out = ''
  const m = new StepProgress({ write: (s) => (out += s), tty: false, label: 'x', everyMs: 100 })
  const s = m.step('one')
  await sleep(350)
  s.done()
  const n = out.split('\n').filter(Boolean).length
  await sleep(250)
  m.stop()
  assert.ok(n >= 2 && n <= 4, `${n} lines in 350 ms at 100 ms:\n${out}`)
  assert.is(out.split('\n').filter(Boolean).length, n, 'no line once nothing runs')
  assert.not.match(out, /\r|\x1b/)
  assert.ok(
    out
      .split('\n')
      .filter(Boolean)
      .every((l) => /^x: 0 done, 0 s elapsed; one, 0 s$/.test(l)),
    out,
  )
})

test('on a terminal: one line redrawn in place, cleared when the work ends', async () => {
  let out = ''
  const m = new StepProgress({ write: (s) => (out += s), tty: true, label: 'x' })
  const s = m.step('one')
  await sleep(1100)
  s.done()
  m.stop()
  assert.ok(out.startsWith('\r') && out.includes('\x1b[K') && !out.includes('\n'), JSON.stringify(out))
  assert.ok(out.endsWith('\r\x1b[K'), 'cleared before the report')
})

test('HAPAIR_PROGRESS_EVERY_MS sets the interval; nonsense or below 100 ms is the default', () => {
  assert.is(progressEveryMs({}), PROGRESS_EVERY_MS)
  assert.is(progressEveryMs({ HAPAIR_PROGRESS_EVERY_MS: '500' }), 500)
  assert.is(progressEveryMs({ HAPAIR_PROGRESS_EVERY_MS: 'soon' }), PROGRESS_EVERY_MS)
  assert.is(progressEveryMs({ HAPAIR_PROGRESS_EVERY_MS: '5' }), PROGRESS_EVERY_MS)
})

test.run()
