// Progress of long work for a person watching, on stderr only (stdout, and with it --json, never
// carries any of it): a live line redrawn in place on a terminal, or one line every few seconds
// in a log (cron, CI). The sync meter (lib/sync/progress.ts) counts rsync's bytes; StepProgress
// here is for work that reports less (a checksum walk on a node, a test restore): it shows what
// is observable — the steps done, what runs now and for how long, and bytes only where something
// really measured them — and never a percentage it would have to guess.
import { siBytes } from './format.ts'

/** Line interval without a terminal. */
export const PROGRESS_EVERY_MS = 3000

/**
 * The interval: HAPAIR_PROGRESS_EVERY_MS overrides it (a log that wants a line a minute, or a test
 * that wants several lines from an operation of a few seconds).
 */
export function progressEveryMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.HAPAIR_PROGRESS_EVERY_MS)
  return Number.isFinite(v) && v >= 100 ? v : PROGRESS_EVERY_MS
}

export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?'
  s = Math.round(s)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

export interface ProgressOptions {
  write: (text: string) => void
  /** A terminal: one line redrawn in place. Otherwise one line every everyMs. */
  tty: boolean
  /** Prefix of every line, e.g. the pair's name. */
  label: string
  everyMs?: number
  now?: () => number
  /** What the bytes of finished steps are, e.g. "hashed" (StepProgress). */
  bytesWord?: string
}

/** The meter on the playbook's stderr, as every long playbook sets it up. */
export const stderrProgress = (label: string) => ({ write: (t: string) => process.stderr.write(t), tty: !!process.stderr.isTTY, label })

/** What one running step has measured: bytes so far, and of how many when that is known (not guessed). */
export interface StepMeasure {
  bytes: number
  total?: number
}

export interface Step {
  /** What the step is doing now, e.g. "hashing app on node-a, node-b". */
  phase(text: string): void
  /** Bytes measured so far (by the step's own count, or a stat on the node). */
  measured(m: StepMeasure): void
  /** Bytes the finished parts of the step covered (shown as done, summed over steps). */
  add(bytes: number): void
  done(): void
}

interface Running {
  name: string
  phase: string
  started: number
  measure?: StepMeasure
  first?: { t: number; bytes: number }
  last?: { t: number; bytes: number }
}

const REDRAW_MS = 1000

/** Progress of a run made of steps: steps done of how many, bytes done where measured, what runs now and for how long. */
export class StepProgress {
  private running = new Set<Running>()
  private finished = 0
  private bytes = 0
  private readonly started: number
  private shown = false
  private timer: NodeJS.Timeout | undefined
  private readonly now: () => number

  /** steps: how many the run will make, when that is known at the start. */
  constructor(
    private o: ProgressOptions,
    private steps?: number,
  ) {
    this.now = o.now ?? Date.now
    this.started = this.now()
  }

  step(name: string): Step {
    const r: Running = { name, phase: name, started: this.now() }
    this.running.add(r)
    // One cadence from the first step to the end of the run, whatever starts and ends between.
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.o.tty ? REDRAW_MS : (this.o.everyMs ?? progressEveryMs()))
      this.timer.unref()
    }
    return {
      phase: (text) => {
        // What was measured belongs to the phase that measured it.
        r.phase = text
        r.measure = r.first = r.last = undefined
      },
      measured: (m) => {
        const t = this.now()
        r.measure = m
        r.first ??= { t, bytes: m.bytes }
        r.last = { t, bytes: m.bytes }
      },
      add: (b) => {
        this.bytes += b
      },
      done: () => {
        if (!this.running.delete(r)) return
        this.finished++
        if (!this.running.size) this.clear()
      },
    }
  }

  /** Prints a line of its own without breaking the live line. */
  print(line: string): void {
    this.clear()
    this.o.write(line + '\n')
    if (this.o.tty && this.running.size) this.redraw()
  }

  /** Clears the live line and stops the timer: the run's report follows. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.clear()
  }

  line(): string {
    const t = this.now()
    const of = this.steps === undefined ? '' : ` of ${this.steps}`
    const bytes = this.bytes ? ` (${siBytes(this.bytes)}${this.o.bytesWord ? ` ${this.o.bytesWord}` : ''})` : ''
    const now = [...this.running].map((r) => `${r.phase}${this.measure(r)}, ${duration((t - r.started) / 1000)}`)
    return `${this.o.label}: ${this.finished}${of} done${bytes}, ${duration((t - this.started) / 1000)} elapsed${now.length ? `; ${now.join('; ')}` : ''}`
  }

  private measure(r: Running): string {
    const m = r.measure
    if (!m) return ''
    const rate = r.first && r.last && r.last.t > r.first.t ? ((r.last.bytes - r.first.bytes) * 1000) / (r.last.t - r.first.t) : 0
    if (!m.total) return `: ${siBytes(m.bytes)} so far${rate > 0 ? `, ${siBytes(Math.round(rate))}/s` : ''}`
    const pct = Math.min(100, Math.floor((m.bytes * 100) / m.total))
    const left = rate > 0 ? `, ${duration(Math.max(0, m.total - m.bytes) / rate)} left` : ''
    return `: ${siBytes(m.bytes)} of ${siBytes(m.total)} (${pct}%)${rate > 0 ? `, ${siBytes(Math.round(rate))}/s` : ''}${left}`
  }

  private tick(): void {
    if (!this.running.size) return
    if (this.o.tty) this.redraw()
    else this.o.write(this.line() + '\n')
  }

  private redraw(): void {
    this.o.write(`\r${this.line()}\x1b[K`)
    this.shown = true
  }

  private clear(): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K')
    this.shown = false
  }
}
