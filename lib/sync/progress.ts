// Progress of long transfers for a person watching: rsync's --info=progress2 records, parsed as
// they stream in, summed over every item and target running at once, and shown on stderr as a
// live line on a terminal or one line every few seconds in a log (cron, CI). stdout, and with it
// --json, never carries any of it.
import { siBytes } from '../format.ts'
import { duration, progressEveryMs, type ProgressOptions } from '../progress.ts'

/** One --info=progress2 record: bytes so far, percent of what rsync knows of so far, files sent. */
export interface Progress2 {
  bytes: number
  pct: number
  files: number
}

// "\r   1,234,567  12%   1.23MB/s    0:00:01 (xfr#3, to-chk=97/101)"; the (xfr#…) part is absent until a file completes.
const RECORD = /^\s*([\d,.']+)\s+(\d{1,3})%\s+\S+\/s\s+\d+:\d\d:\d\d(?:\s+\(xfr#(\d+), (?:ir|to)-chk=\d+\/\d+\))?\s*$/

export function parseProgress2(segment: string): Progress2 | undefined {
  const m = RECORD.exec(segment)
  if (!m) return undefined
  return { bytes: Number(m[1].replace(/[,.']/g, '')), pct: Number(m[2]), files: m[3] ? Number(m[3]) : 0 }
}

/**
 * Splits rsync's stdout as it arrives: progress records (ended by \r or \n) go to onProgress, and
 * everything else is kept as the output the stats and itemised parsers read, as if no progress
 * had been asked for.
 */
export class Progress2Splitter {
  private pending = ''
  private kept: string[] = []
  private lastFiles = 0
  constructor(private onProgress: (p: Progress2) => void) {}

  push(text: string): void {
    this.pending += text
    let start = 0
    for (let i = 0; i < this.pending.length; i++) {
      const c = this.pending[i]
      if (c !== '\r' && c !== '\n') continue
      const seg = this.pending.slice(start, i)
      const p = parseProgress2(seg)
      if (p) {
        // A record without xfr# still counts the files finished before it.
        this.lastFiles = p.files || this.lastFiles
        this.onProgress({ ...p, files: this.lastFiles })
      } else if (seg.length || c === '\n') this.kept.push(seg + c)
      start = i + 1
    }
    this.pending = this.pending.slice(start)
  }

  /** What rsync printed besides its progress. */
  output(): string {
    return this.kept.join('') + this.pending
  }
}

interface Track {
  bytes: number
  pct: number
  files: number
  done: boolean
}

const REDRAW_MS = 250
const RATE_WINDOW_MS = 10000

/** The progress of one run: every item and target running at once feeds it; it draws the line. */
export class SyncProgress {
  private tracks = new Map<string, Track>()
  private samples: { t: number; bytes: number }[] = []
  private shown = false
  private lastDraw = 0
  private timer: NodeJS.Timeout | undefined
  private readonly now: () => number

  constructor(private o: ProgressOptions) {
    this.now = o.now ?? Date.now
  }

  /** A new transfer (one item to one target); feed it the records of its rsync. */
  track(name: string): { update(p: Progress2): void; done(): void } {
    const t: Track = { bytes: 0, pct: 0, files: 0, done: false }
    this.tracks.set(name, t)
    // One cadence from the first transfer to the end of the run, whatever starts and ends between.
    if (!this.o.tty && !this.timer) {
      this.timer = setInterval(() => this.tick(), this.o.everyMs ?? progressEveryMs())
      this.timer.unref()
    }
    return {
      update: (p) => {
        Object.assign(t, p)
        this.sample()
        if (this.o.tty) this.redraw()
      },
      done: () => {
        t.done = true
        this.sample()
        if (!this.active().length) this.clear()
      },
    }
  }

  /** Prints a line of its own (a --verbose phase) without breaking the live line. */
  print(line: string): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K')
    this.o.write(line + '\n')
    this.shown = false
    if (this.o.tty && this.active().length) this.redraw(true)
  }

  /** Clears the live line and stops the timer: the run's report follows. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.clear()
  }

  /** The line as shown: files and bytes done, of about how much, the rate and the time left. */
  line(): string {
    const all = [...this.tracks.values()]
    const done = all.reduce((n, t) => n + t.bytes, 0)
    const files = all.reduce((n, t) => n + t.files, 0)
    // rsync's percent is of the files it has listed so far: the total is an estimate until the listing ends.
    const known = all.every((t) => t.done || t.pct > 0)
    const total = all.reduce((n, t) => n + (t.done ? t.bytes : t.pct > 0 ? (t.bytes * 100) / t.pct : t.bytes), 0)
    const rate = this.rate()
    const left = known && rate > 0 ? duration(Math.max(0, total - done) / rate) : '?'
    const of = known && total > 0 ? ` of ~${siBytes(Math.round(total))} (${Math.min(100, Math.floor((done * 100) / total))}%)` : ''
    const names = this.active().join(', ')
    return `${this.o.label}: ${files} files, ${siBytes(done)}${of}, ${siBytes(Math.round(rate))}/s, ${left} left${names ? ` (${names})` : ''}`
  }

  private active(): string[] {
    return [...this.tracks.entries()].filter(([, t]) => !t.done).map(([n]) => n)
  }

  private sample(): void {
    const t = this.now()
    this.samples.push({ t, bytes: [...this.tracks.values()].reduce((n, x) => n + x.bytes, 0) })
    while (this.samples.length > 2 && t - this.samples[1].t > RATE_WINDOW_MS) this.samples.shift()
  }

  private rate(): number {
    if (this.samples.length < 2) return 0
    const a = this.samples[0],
      b = this.samples[this.samples.length - 1]
    return b.t > a.t ? ((b.bytes - a.bytes) * 1000) / (b.t - a.t) : 0
  }

  private tick(): void {
    this.sample() // a stalled transfer's rate falls to 0 instead of showing its last speed
    if (this.active().length) this.o.write(this.line() + '\n')
  }

  private redraw(force = false): void {
    const t = this.now()
    if (!force && t - this.lastDraw < REDRAW_MS) return
    this.lastDraw = t
    this.o.write(`\r${this.line()}\x1b[K`)
    this.shown = true
  }

  private clear(): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K')
    this.shown = false
  }
}
