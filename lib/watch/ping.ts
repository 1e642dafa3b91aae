// Liveness by ICMP echo, one packet per interval, each on its own: a lost echo delays nothing
// that follows it (unlike probes that share a TCP connection, which stall for a retransmission
// timeout on every lost segment). iputils ping with -O says "no answer yet" for each echo that
// went unanswered, so a stream that prints nothing at all is a broken probe, never a dead node.
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
}

export type PingLine = 'reply' | 'miss' | 'other'

export function parsePingLine(line: string): PingLine {
  if (/ bytes from .*icmp_seq=/.test(line)) return 'reply'
  if (/^no answer yet for icmp_seq=/.test(line) || /icmp_seq=.*(Unreachable|unreachable)/.test(line)) return 'miss'
  return 'other'
}

/** -i below 0.2 s needs root (the watcher runs as root, or with cap_net_raw on ping). */
export function pingArgv(address: string, intervalMs: number): string[] {
  return ['stdbuf', '-oL', 'ping', '-n', '-O', '-i', (intervalMs / 1000).toFixed(3), address]
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

/** A ping from this host, restarted if it ever exits. */
export function localPing(address: string, intervalMs: number): Prober {
  const track = newTrack(Date.now(), Math.max(5 * intervalMs, 100))
  let child: ChildProcess | undefined
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const start = () => {
    if (stopped) return
    const [cmd, ...args] = pingArgv(address, intervalMs)
    child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
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
 * Each line arrives as soon as ping prints it; the track's `line` shows the view is current.
 */
export function remotePing(session: NodeSession, address: string, intervalMs: number): Prober {
  return remoteStream(session, pingArgv(address, intervalMs), (track, line) => feed(track, line), 300, Math.max(5 * intervalMs, 100))
}

/** A long-running command on a node whose lines update a track; restarted when it ends. */
export function remoteStream(session: NodeSession, argv: string[], onLine: (t: Track, line: string) => void, retryMs = 300, gapMs = 100): Prober {
  const track = newTrack(Date.now(), gapMs)
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
