// Liveness by ICMP echo, one packet per interval, each on its own: a lost echo delays nothing
// that follows it (unlike probes that share a TCP connection, which stall for a retransmission
// timeout on every lost segment). iputils ping with -O says "no answer yet" for each echo that
// went unanswered, so a stream that prints nothing at all is a broken probe, never a dead node.
//
// A survivor's ping goes through THIN_AWK on the node before it is relayed: a line per echo is 50
// a second at the default interval, and relaying them over SSH for 20 pairs was a large part of
// the watcher's CPU. The filter prints every miss at once, with how many echoes have gone
// unanswered, and an answer only every ~100 ms (and the first after a miss): between its lines
// the target is still answering, so nothing the verdict needs is lost.
import { spawn, type ChildProcess } from 'node:child_process'
import type { NodeSession } from '../ssh.ts'

export interface Track {
  /** When this probe (re)started: silence before it proves nothing. */
  since: number
  /** Last echo reply. */
  reply?: number
  /** Last line of any kind: the probe itself is alive. */
  line?: number
  replies: number
  misses: number
  /** Round trip of the last reply, as ping measured it. */
  rttMs?: number
  /** Start of the current unbroken run of replies (no gap over gapMs). */
  upSince?: number
  gapMs: number
  /**
   * Thinned streams (THIN_AWK): the last line said the target answers. Silence after it means
   * "still answering" for as long as the stream is current, so the verdict takes the newest reply
   * as now (replyAt); a miss is printed at once and clears this.
   */
  answering?: boolean
  /** A thinned stream's longest quiet time while the target answers (its "up" lines' period). */
  periodMs?: number
}

export type PingLine = 'reply' | 'miss' | 'other'

export function parsePingLine(line: string): PingLine {
  if (/ bytes from .*icmp_seq=/.test(line)) return 'reply'
  if (/^no answer yet for icmp_seq=/.test(line) || /icmp_seq=.*(Unreachable|unreachable)/.test(line)) return 'miss'
  return 'other'
}

export const newTrack = (now = Date.now(), gapMs = 100): Track => ({ since: now, replies: 0, misses: 0, gapMs })

export function feed(t: Track, line: string, now = Date.now()): void {
  const kind = parsePingLine(line)
  if (kind === 'reply') {
    if (t.reply === undefined || now - t.reply > t.gapMs) t.upSince = now
    t.reply = now
    t.replies++
    const m = / time=([\d.]+) ms/.exec(line)
    if (m) t.rttMs = Number(m[1])
  }
  if (kind === 'miss') t.misses++
  t.line = now
}

/**
 * When the target last answered, as far as the track can tell at `now`: a thinned stream whose
 * last word was "up" reports every miss at once, so it still answers now.
 */
export const replyAt = (now: number, t: Track): number | undefined => (t.answering ? now : t.reply)

/** How many replies THIN_AWK lets through as one "up" line: about one every 100 ms. */
export const thinEvery = (intervalMs: number) => Math.max(1, Math.round(100 / intervalMs))

/**
 * awk over ping -n -O output (any awk: mawk, gawk, busybox), variable `every`: "up <rtt ms>" for
 * the first reply after a miss and then for every `every`-th; "miss <n>" at once for each echo ping
 * reports unanswered, n the echoes sent since the last reply (by icmp_seq, which wraps at 65536).
 */
export const THIN_AWK = String.raw`BEGIN { k = every; last = -1 }
{ s = -1; if (match($0, /icmp_seq=[0-9]+/)) s = substr($0, RSTART + 9, RLENGTH - 9) + 0 }
/ bytes from .*icmp_seq=/ {
  if (s >= 0) last = s
  t = ""; if (match($0, / time=[0-9.]+/)) t = " " substr($0, RSTART + 6, RLENGTH - 6)
  if (missing || ++k >= every) { print "up" t; fflush(); k = 0 }
  missing = 0; next
}
/^no answer yet for icmp_seq=/ || /icmp_seq=.*[Uu]nreachable/ {
  if (s < 0) next
  g = last < 0 ? s : (s - last + 65536) % 65536
  if (g == 0) next
  missing = 1; print "miss " g; fflush(); next
}`

/** One line of THIN_AWK's output into a track; intervalMs turns a miss count into time. */
export function feedThin(t: Track, line: string, intervalMs: number, now = Date.now()): void {
  const sp = line.indexOf(' ')
  const word = sp < 0 ? line : line.slice(0, sp)
  const arg = sp < 0 ? undefined : Number(line.slice(sp + 1))
  if (word === 'up') {
    if (!t.answering) t.upSince = now
    t.answering = true
    t.reply = now
    t.replies++
    if (arg !== undefined && Number.isFinite(arg)) t.rttMs = arg
  } else if (word === 'miss' && arg !== undefined && arg > 0) {
    // The last reply came to the echo sent `arg` intervals ago: never later than that.
    t.answering = false
    t.reply = Math.max(t.reply ?? 0, now - arg * intervalMs) || undefined
    t.misses++
  } else return
  t.line = now
}

const thinTrack = (intervalMs: number, now = Date.now()): Track => ({
  ...newTrack(now, Math.max(5 * intervalMs, 100)),
  periodMs: thinEvery(intervalMs) * intervalMs,
})

export interface Prober {
  track: Track
  stop(): void
}

/** Chunks of output to whole lines; a line that never ends is dropped, not held without bound. */
function lines(fn: (line: string) => void): (d: Buffer) => void {
  let buf = ''
  return (d) => {
    buf += d.toString('utf8')
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
    if (buf.length > 65536) buf = ''
  }
}

/**
 * A survivor's view: ping through THIN_AWK on the node. mawk (Debian's awk) reads a pipe in
 * 4 KiB blocks, over a second of ping output, unless -W interactive; gawk and busybox read what
 * has arrived. Both processes end with the reader: awk on its next write, ping on its own. ping's
 * -i below 0.2 s needs root (the watcher runs as root, or with cap_net_raw on ping).
 * Arguments: address, interval in seconds, every, the awk program.
 */
export const VIEW_SCRIPT = 'A=awk; command -v mawk >/dev/null 2>&1 && A="mawk -W interactive"; stdbuf -oL ping -n -O -i "$2" "$1" | $A -v every="$3" "$4"'

const viewArgv = (address: string, intervalMs: number) => [
  'sh',
  '-c',
  VIEW_SCRIPT,
  'hapair-view',
  address,
  (intervalMs / 1000).toFixed(3),
  String(thinEvery(intervalMs)),
  THIN_AWK,
]

/**
 * A ping from this host, restarted if it ever exits. Read whole, not through THIN_AWK: a local
 * pipe's line costs about what awk's wake-up per line would, and the extra processes cost more
 * (20 pings at 20 ms: 8 to 10% of a core read whole, 13 to 14% through the filter).
 */
export function localPing(address: string, intervalMs: number): Prober {
  const track = newTrack(Date.now(), Math.max(5 * intervalMs, 100))
  let child: ChildProcess | undefined
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const start = () => {
    if (stopped) return
    child = spawn('stdbuf', ['-oL', 'ping', '-n', '-O', '-i', (intervalMs / 1000).toFixed(3), address], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on(
      'data',
      lines((l) => feed(track, l)),
    )
    // "sendmsg: Network is unreachable" and the like: the probe runs, the node does not answer.
    child.stderr!.on('data', () => {
      track.line = Date.now()
      track.misses++
    })
    child.on('error', () => undefined)
    child.on('exit', () => {
      child = undefined
      if (!stopped) timer = setTimeout(start, 200)
    })
  }
  start()
  return {
    track,
    stop() {
      stopped = true
      clearTimeout(timer)
      child?.kill('SIGKILL')
    },
  }
}

/**
 * A ping run on another node over its kept SSH connection: that node's own view of `address`.
 * Each line arrives as soon as THIN_AWK prints it; the track's `line` shows the view is current.
 */
export function remotePing(session: NodeSession, address: string, intervalMs: number): Prober {
  return remoteStream(session, viewArgv(address, intervalMs), (track, line) => feedThin(track, line, intervalMs), 300, thinTrack(intervalMs))
}

/** A long-running command on a node whose lines update a track; restarted when it ends. */
export function remoteStream(session: NodeSession, argv: string[], onLine: (t: Track, line: string) => void, retryMs = 300, track = newTrack()): Prober {
  let stopped = false
  let current: { stop(): void } | undefined
  let timer: NodeJS.Timeout | undefined
  const start = async () => {
    if (stopped) return
    try {
      const s = await session.stream(argv, { stdout: lines((l) => onLine(track, l)) })
      if (stopped) {
        s.close()
        return
      }
      current = { stop: () => s.close() }
      await s.done
    } catch {
      /* unreachable: the track goes stale, which is what the decision reads */
    }
    current = undefined
    if (!stopped)
      timer = setTimeout(() => {
        void start()
      }, retryMs)
  }
  void start()
  return {
    track,
    stop() {
      stopped = true
      clearTimeout(timer)
      current?.stop()
    },
  }
}

/**
 * A shell on the node printing a line every interval over the kept connection: "something above
 * the kernel still runs there and its sshd still relays", the hung node's counter-evidence. A
 * stream, not a command per interval: a command is a channel open, exec and close each time, and
 * for a watcher of many pairs those were most of its CPU. `read -t` is bash's own timer (no fork
 * per line); it returns at once on EOF, so the loop ends with the channel.
 */
export const HEARTBEAT_SCRIPT = String.raw`while :; do echo beat || exit 0; read -r -t "$1" _; [ $? -gt 128 ] || exit 0; done`

export function heartbeat(session: NodeSession, everyMs: number): Prober {
  const argv = ['bash', '-c', HEARTBEAT_SCRIPT, 'hapair-heartbeat', (everyMs / 1000).toFixed(3)]
  return remoteStream(session, argv, (t, line) => {
    if (line !== 'beat') return
    const now = Date.now()
    t.line = now
    t.reply = now
    t.replies++
  })
}
