// The probes' own parts that need no lab: ping's lines, and the heartbeat script run by a real bash.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { HEARTBEAT_SCRIPT, feed, newTrack, parsePingLine } from '../../lib/watch/ping.ts'

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
