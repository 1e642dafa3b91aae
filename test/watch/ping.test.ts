// The probes' own parts that need no lab: ping's lines, and the heartbeat script run by a real bash.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { HEARTBEAT_SCRIPT, THIN_AWK, VIEW_SCRIPT, feed, feedThin, newTrack, parsePingLine, replyAt } from '../../lib/watch/ping.ts'

test('ping lines: replies, misses, the rest', () => {
  assert.is(parsePingLine('64 bytes from 198.51.100.11: icmp_seq=3 ttl=64 time=0.051 ms'), 'reply')
  assert.is(parsePingLine('no answer yet for icmp_seq=4'), 'miss')
  assert.is(parsePingLine('From 198.51.100.1 icmp_seq=5 Destination Host Unreachable'), 'miss')
  assert.is(parsePingLine('PING 198.51.100.11 (198.51.100.11) 56(84) bytes of data.'), 'other')
  const t = newTrack(1000, 100)
  feed(t, '64 bytes from 198.51.100.11: icmp_seq=1 ttl=64 time=0.25 ms', 1010)
  feed(t, 'no answer yet for icmp_seq=2', 1030)
  assert.equal(
    { reply: t.reply, line: t.line, replies: t.replies, misses: t.misses, rttMs: t.rttMs, upSince: t.upSince },
    { reply: 1010, line: 1030, replies: 1, misses: 1, rttMs: 0.25, upSince: 1010 },
  )
})

/** ping -n -O output through THIN_AWK run by this machine's awk. */
function thinned(input: string[], every = 5): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('awk', ['-v', `every=${every}`, THIN_AWK], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out.split('\n').filter(Boolean)) : reject(new Error(`awk exited ${code}`))))
    child.stdin.end(input.join('\n') + '\n')
  })
}
const reply = (seq: number, ms = '0.05') => `64 bytes from 198.51.100.11: icmp_seq=${seq} ttl=64 time=${ms} ms`

test('thinned: the first reply, then every 5th; every miss at once with the echoes unanswered; the first reply after', async () => {
  const input = ['PING 198.51.100.11 (198.51.100.11) 56(84) bytes of data.']
  for (let i = 1; i <= 11; i++) input.push(reply(i, i === 1 ? '0.25' : '0.05'))
  input.push('no answer yet for icmp_seq=12', 'no answer yet for icmp_seq=13', 'From 198.51.100.1 icmp_seq=14 Destination Host Unreachable')
  input.push(reply(15), reply(16))
  assert.equal(await thinned(input), ['up 0.25', 'up 0.05', 'up 0.05', 'miss 1', 'miss 2', 'miss 3', 'up 0.05'])
})

test('thinned: misses before any reply count from the first echo; icmp_seq wraps at 65536', async () => {
  assert.equal(await thinned(['no answer yet for icmp_seq=1', 'no answer yet for icmp_seq=2']), ['miss 1', 'miss 2'])
  assert.equal(await thinned([reply(65535), 'no answer yet for icmp_seq=0', 'no answer yet for icmp_seq=1']), ['up 0.05', 'miss 1', 'miss 2'])
})

test('thinned track: "up" means answering now; a miss puts the last reply n intervals back and clears it', () => {
  const t = newTrack(1000, 100)
  feedThin(t, 'up 0.3', 20, 1010)
  assert.equal(
    { answering: t.answering, reply: t.reply, upSince: t.upSince, rtt: t.rttMs, line: t.line },
    { answering: true, reply: 1010, upSince: 1010, rtt: 0.3, line: 1010 },
  )
  assert.is(replyAt(1090, t), 1090)
  feedThin(t, 'up 0.05', 20, 1110)
  assert.is(t.upSince, 1010, 'an unbroken run keeps its start')
  feedThin(t, 'miss 3', 20, 1300)
  assert.equal({ answering: t.answering, reply: t.reply, misses: t.misses }, { answering: false, reply: 1240, misses: 1 })
  assert.is(replyAt(1320, t), 1240)
  feedThin(t, 'garbage', 20, 1400)
  assert.is(t.line, 1300, 'a line the filter never prints is not a sign of life')
  feedThin(t, 'up', 20, 1420)
  assert.is(t.upSince, 1420, 'a new run after a miss')
})

test("a survivor's view (VIEW_SCRIPT, real ping and awk): lines arrive at once, thinned, and the pipeline ends with its reader", async () => {
  const child = spawn('sh', ['-c', VIEW_SCRIPT, 'hapair-view', '127.0.0.1', '0.020', '5', THIN_AWK], { stdio: ['ignore', 'pipe', 'inherit'] })
  const t = newTrack(Date.now(), 100)
  const t0 = Date.now()
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    for (const l of d.split('\n')) if (l) feedThin(t, l, 20)
  })
  while (!t.answering && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10))
  // mawk without -W interactive held over a second of ping's output before its first line.
  assert.ok(t.answering && t.line! - t0 < 700, `first "up" after ${t.line! - t0} ms`)
  const first = t.replies
  await new Promise((r) => setTimeout(r, 500))
  // 25 echoes in 500 ms, about 5 lines: thinned, and still coming.
  assert.ok(t.replies > first && t.replies - first <= 8, `${t.replies - first} lines in 500 ms`)
  // Like sshd closing the channel: the reader goes away, and awk and ping end by themselves.
  child.stdout.destroy()
  await new Promise((r) => setTimeout(r, 400))
  for (const pattern of ['ping -n -O -i 0.020 127.0.0.1', 'every=5'])
    assert.is(spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim(), '', `${pattern}: outlived its reader`)
})

test('heartbeat: a line per interval while the channel is open, gone at once when it closes', async () => {
  const child = spawn('bash', ['-c', HEARTBEAT_SCRIPT, 'hapair-heartbeat', '0.100'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const beats: number[] = []
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    for (const l of d.split('\n')) if (l === 'beat') beats.push(Date.now())
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  await new Promise((r) => setTimeout(r, 450))
  const closed = Date.now()
  child.stdin.end()
  assert.is(await exited, 0)
  assert.ok(Date.now() - closed < 200, `exited ${Date.now() - closed} ms after stdin closed`)
  // Paced by read -t, not a busy loop: about one per 100 ms (a loaded machine may deliver fewer).
  assert.ok(beats.length >= 2 && beats.length <= 6, `${beats.length} beats in 450 ms at 100 ms`)
})

test.run()
