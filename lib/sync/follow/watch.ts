// The node-side watcher: inotifywait on one item, streamed over the pinned SSH connection.
// It lives only as long as both ends want it: when the controller closes stdin (or dies, and
// sshd closes it) the script kills inotifywait; when the follower's lease on the node is ended
// (a failover's stopSyncs renames it) it kills itself within a second. Nothing is left running.
import type { SyncItem } from '../../inventory/schema.ts'
import { sh } from '../../shell.ts'
import type { CommandStream, NodeSession } from '../../ssh.ts'
import { asBytes, parseEvent, RecordSplitter, WATCH_EVENTS, WATCH_FORMAT, watchTrouble, type WatchEvent } from './events.ts'

/** The exit the script uses when the node lacks inotifywait. */
export const NO_INOTIFYWAIT = 127

export function watchScript(item: SyncItem, leaseDir: string): string {
  const root = item.path.replace(/\/+$/, '') || '/'
  return [
    sh`command -v inotifywait >/dev/null 2>&1 || { echo 'inotifywait is not installed on this node (Debian: apt-get install inotify-tools)' >&2; exit ${NO_INOTIFYWAIT}; }`,
    sh`d=${leaseDir}`,
    // Background jobs read /dev/null unless told otherwise: keep the channel's stdin as fd 3 for the one that waits on it.
    'exec 3<&0',
    sh`inotifywait -m -r -e ${WATCH_EVENTS} --format ${WATCH_FORMAT} --no-newline -- ${root} </dev/null &`,
    'w=$!',
    'echo "hapair-watch-pid $w" >&2',
    // inotifywait drops the kernel's overflow notice without a word: the queue size lets the controller tell a flood that may have overflowed it.
    'echo "hapair-watch-queue $(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)" >&2',
    // The lease gone (a failover ended it) or inotifywait dead: stop.
    '( while kill -0 $w 2>/dev/null && [ -d "$d" ]; do sleep 1; done; kill $w 2>/dev/null ) </dev/null >/dev/null 2>&1 &',
    // stdin closes when the controller stops or its connection is gone.
    '( cat >/dev/null; kill $w 2>/dev/null ) <&3 >/dev/null 2>&1 &',
    'exec 3<&-',
    'wait $w; rc=$?',
    // sshd starts each command in its own session: this ends the helpers and nothing else.
    "trap '' TERM; kill -TERM 0 2>/dev/null; exit $rc",
  ].join('\n')
}

/**
 * The kernel queues at most max_queued_events for a reader that lags; past that it drops them
 * and says so with IN_Q_OVERFLOW, which inotifywait swallows. A reader that lagged that far
 * delivers about a queue's worth in a rush when it catches up: that many events within one
 * window counts as an overflow (a false alarm costs one full pass, a missed one loses files).
 */
export class FloodGauge {
  queue = 16384
  private start = 0
  private n = 0
  private tripped = false
  constructor(
    private readonly windowMs = 1000,
    private readonly share = 0.9,
  ) {}
  add(events: number, now: number): string | undefined {
    if (now - this.start > this.windowMs) {
      this.start = now
      this.n = 0
      this.tripped = false
    }
    this.n += events
    if (this.tripped || this.n < this.share * this.queue) return undefined
    this.tripped = true
    return `${this.n} events arrived within ${this.windowMs} ms, as many as the node's inotify queue holds (fs.inotify.max_queued_events ${this.queue}): the kernel may have dropped events, and inotifywait does not report that`
  }
}

export interface Watcher {
  item: string
  /** inotifywait's pid on the node, once known. */
  pid(): number | undefined
  /** Resolves when the watches are in place; rejects with why they are not. */
  ready: Promise<void>
  /** Settles when the watcher ends: its exit, or a RemoteError when the connection was lost. */
  done: Promise<{ code: number | null; signal: string | null }>
  stop(): void
}

export async function startWatcher(
  s: NodeSession,
  item: SyncItem,
  leaseDir: string,
  on: { event(e: WatchEvent): void; trouble(why: string): void },
): Promise<Watcher> {
  const split = new RecordSplitter()
  const flood = new FloodGauge()
  const root = asBytes(item.path.replace(/\/+$/, '') || '/')
  let pid: number | undefined
  let err = ''
  let ready = false
  let markReady!: () => void
  let failReady!: (e: Error) => void
  const readyP = new Promise<void>((res, rej) => {
    markReady = res
    failReady = rej
  })
  readyP.catch(() => {
    /* awaited by the caller */
  })
  const stream: CommandStream = await s.stream(
    { script: watchScript(item, leaseDir) },
    {
      stdout: (d) => {
        const recs = split.push(d)
        const why = flood.add(recs.length, Date.now())
        for (const rec of recs) {
          const e = parseEvent(rec, root)
          if (e) on.event(e)
        }
        if (why) on.event({ kind: 'overflow', why })
      },
      stderr: (d) => {
        err += d.toString('utf8')
        let nl
        while ((nl = err.indexOf('\n')) >= 0) {
          const line = err.slice(0, nl)
          err = err.slice(nl + 1)
          const m = /^hapair-watch-pid (\d+)/.exec(line)
          if (m) {
            pid = Number(m[1])
            continue
          }
          const q = /^hapair-watch-queue (\d+)/.exec(line)
          if (q) {
            flood.queue = Number(q[1])
            continue
          }
          if (/^Watches established/.test(line)) {
            ready = true
            markReady()
            continue
          }
          if (/^Setting up watches/.test(line)) continue
          const t = watchTrouble(line)
          if (t) {
            if (ready) on.trouble(t)
            else failReady(new Error(t))
          } else if (line.trim() && !ready) failReady(new Error(line.trim()))
        }
      },
    },
  )
  const done = stream.done
  done.then(
    (r) => {
      if (!ready) failReady(new Error(`the watcher ended before its watches were set up (exit ${r.code ?? r.signal})${err.trim() ? `: ${err.trim()}` : ''}`))
    },
    (e) => {
      if (!ready) failReady(e)
    },
  )
  return { item: item.name, pid: () => pid, ready: readyP, done, stop: () => stream.end() }
}
