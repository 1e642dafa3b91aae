// Progress of a long sync without a terminal (a log, cron, CI): rsync's --info=progress2 records
// (and the sftp transport's own counts) become a line on stderr every few seconds with files
// and bytes done, rate and time left,
// while stdout (the report, or --json) is what it is without them. The transfer is made slow
// for real: a tbf qdisc on the source node's interface in its lab namespace.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseStats } from '../../lib/sync/rsync.ts'
import { parseProgress2, Progress2Splitter, SyncProgress, type Progress2 } from '../../lib/sync/progress.ts'
import { playbook } from '../helpers/playbook.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { loud, on, script } from './_lab.ts'

let lab: TestLab
let first: Awaited<ReturnType<typeof sync>>
const APP = 3_000_000 // rsync item
const CONFIG = 3_000_000 // sftp item, sent first (priority 20)
const sync = (...args: string[]) => playbook('sync', ['--inventory', lab.file, ...args], { timeoutMs: 40000 })
const shape = () => on(lab, 'node-a', ['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', '8mbit', 'burst', '32kbit', 'latency', '400ms'])
const unshape = () => lab.exec('node-a', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
const LINE = /^demo: (\d+) files, ([\d.]+ [kMG]?B)( of ~[\d.]+ [kMG]?B \(\d+%\))?, ([\d.]+ [kMG]?B)\/s, (.+) left \((app|config) -> node-b\)$/

// rsync 3.x output as it streams: progress records between \r, then the stats.
const RAW =
  '\r          32768   0%    0.00kB/s    0:00:00  \r        3000000  50%   64.12MB/s    0:00:00 (xfr#1, to-chk=1/3)\r        6000000 100%   60.00MB/s    0:00:00 (xfr#2, to-chk=0/3)\n\nNumber of files: 3 (reg: 2, dir: 1)\nNumber of regular files transferred: 2\nLiteral data: 6,000,000 bytes\n'

test('the splitter hands progress records on and keeps the rest as rsync would print it without them', () => {
  const got: Progress2[] = []
  const s = new Progress2Splitter((p) => got.push(p))
  for (let i = 0; i < RAW.length; i += 7) s.push(RAW.slice(i, i + 7)) // chunk boundaries anywhere
  assert.equal(
    got.map((p) => [p.bytes, p.pct, p.files]),
    [
      [32768, 0, 0],
      [3000000, 50, 1],
      [6000000, 100, 2],
    ],
  )
  assert.not.match(s.output(), /xfr#|%/)
  assert.equal([parseStats(s.output()).transferred, parseStats(s.output()).literal, parseStats(s.output()).files], [2, 6000000, 2])
  assert.is(parseProgress2('>f+++++++++ 50% done.txt'), undefined)
})

test('the meter: files, bytes of the estimated total, rate and time left; a live line on a terminal', () => {
  let t = 0
  let out = ''
  const m = new SyncProgress({
    write: (s) => {
      out += s
    },
    tty: true,
    label: 'demo',
    now: () => t,
  })
  const a = m.track('app -> node-b')
  a.update({ bytes: 0, pct: 0, files: 0 })
  t = 2000
  a.update({ bytes: 2_000_000, pct: 25, files: 10 })
  assert.is(m.line(), 'demo: 10 files, 2.00 MB of ~8.00 MB (25%), 1.00 MB/s, 6 s left (app -> node-b)')
  assert.ok(out.startsWith('\r') && out.includes('\x1b[K') && !out.includes('\n'), JSON.stringify(out))
  a.done()
  assert.ok(out.endsWith('\r\x1b[K'), 'the live line is cleared before the report')
})

test.before(
  loud(async () => {
    lab = await startTestLab()
    first = await sync()
    assert.is(first.code, 0, first.stdout + first.stderr)
    await script(lab, 'node-a', `head -c ${APP} /dev/urandom > /srv/app/slow.bin; head -c ${CONFIG} /dev/urandom > /srv/config/slow.bin`)
  }),
)
test.after(async () => {
  await unshape().catch(() => {})
  await lab?.down()
})

test('a slow sync without a terminal prints a progress line every few seconds on stderr; --json is untouched', async () => {
  await shape()
  let r
  try {
    r = await sync('--json')
  } finally {
    await unshape()
  }
  assert.is(r.code, 0, r.stderr)
  const rep = JSON.parse(r.stdout) // stdout is the JSON alone
  assert.equal(
    rep.results.map((x: any) => [x.item, x.transport, x.bytes >= (x.item === 'app' ? APP : CONFIG)]),
    [
      ['config', 'sftp', true],
      ['app', 'rsync', true],
    ],
  )
  assert.not.ok('dryRunBytes' in rep.results[0])
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('demo: '))
  console.log(`      ${(r.ms / 1000).toFixed(1)} s sync, ${lines.length} progress lines; last: ${lines.at(-1)}`)
  assert.ok(r.ms >= 6000, `the sync took ${r.ms} ms: too fast to show progress`)
  assert.ok(lines.length >= 2, `${lines.length} progress lines in ${r.ms} ms (one every 3 s):\n${r.stderr}`)
  for (const l of lines) assert.match(l, LINE)
  assert.not.match(r.stderr, /\r|\x1b/, 'no terminal control codes in a log')
  const done = lines.map((l) => LINE.exec(l)!).map((m) => m[2])
  assert.ok(
    done.some((b) => b !== '0 B'),
    `bytes never moved: ${done.join(', ')}`,
  )
  // Which item a tick lands in depends on the link; that lines name what runs does not.
  assert.ok(
    lines.every((l) => /\((config|app) -> node-b\)$/.test(l)),
    lines.join('\n'),
  )
})

test('a quick sync without a terminal prints no progress line, and its report as before', () => {
  assert.not.match(first.stderr, /^demo: \d+ files/m)
  assert.match(first.stdout, /app\s+-> node-b\s+rsync\s+OK\s+\d+ files: \d+ sent/)
})

test.run()
