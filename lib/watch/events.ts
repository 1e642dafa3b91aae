// Every decision the watcher makes is one JSON line (stdout) and, per pair, a hook: a command
// given the event on stdin and/or a webhook it is POSTed to. Hooks never hold the watcher up:
// they run in the background, one at a time per hook, with bounded retries and a bounded
// queue (an alerting system that is down must not grow the watcher's memory).
import { spawn } from 'node:child_process'

export const EVENTS = [
  'started',
  'stopped',
  'suspect',
  'confirmed',
  'vetoed',
  'no-quorum',
  'recovered',
  'takeover-started',
  'takeover-done',
  'takeover-failed',
  'takeover-skipped',
  'held-down',
  'capped',
  'unfenced',
  'paused',
  'resumed',
  'stalled',
  'active-changed',
  'lease-expired',
  'lease-renew-failed',
  'service-failed',
  'service-restarted',
  'service-recovered',
  'vip-unserved',
  'hook-failed',
  'pg-rejoin-started',
  'pg-rejoined',
  'pg-rejoin-failed',
] as const
export type EventName = (typeof EVENTS)[number]

export interface WatchEvent {
  at: string
  ms: number
  pair: string
  event: EventName
  [k: string]: unknown
}

export interface Hooks {
  command?: string
  webhook?: string
  retries?: number
}

const QUEUE_MAX = 100
const HOOK_TIMEOUT_MS = 10_000

export class HookRunner {
  private queue: WatchEvent[] = []
  private running = false
  dropped = 0
  constructor(
    private hooks: Hooks,
    private onFail: (what: string, why: string) => void,
    private sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  push(e: WatchEvent): void {
    if (!this.hooks.command && !this.hooks.webhook) return
    if (this.queue.length >= QUEUE_MAX) {
      this.queue.shift()
      this.dropped++
    }
    this.queue.push(e)
    if (!this.running) void this.drain()
  }

  /** Drops what is still queued (the watcher is stopping and has waited long enough). */
  discard(): number {
    const n = this.queue.length
    this.queue = []
    return n
  }

  /** Resolves when everything queued has been delivered or given up on. */
  async idle(): Promise<void> {
    while (this.running || this.queue.length) await new Promise((r) => setTimeout(r, 10))
  }

  private async drain(): Promise<void> {
    this.running = true
    try {
      while (this.queue.length) {
        const e = this.queue.shift()!
        const body = JSON.stringify(e)
        if (this.hooks.command) await this.retry('command', () => runCommand(this.hooks.command!, body))
        if (this.hooks.webhook) await this.retry('webhook', () => post(this.hooks.webhook!, body))
      }
    } finally {
      this.running = false
    }
  }

  private async retry(what: string, fn: () => Promise<void>): Promise<void> {
    const tries = 1 + (this.hooks.retries ?? 3)
    for (let i = 0; i < tries; i++) {
      try {
        await fn()
        return
      } catch (e) {
        if (i === tries - 1) {
          this.onFail(what, (e as Error).message)
          return
        }
        await this.sleep(Math.min(200 * 2 ** i, 5000))
      }
    }
  }
}

function runCommand(cmd: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), HOOK_TIMEOUT_MS)
    child.stderr!.on('data', (d) => {
      if (err.length < 2000) err += d
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`hook command ${signal ? `killed by ${signal}` : `exited ${code}`}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}`))
    })
    child.stdin!.on('error', () => undefined)
    child.stdin!.end(body + '\n')
  })
}

async function post(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(HOOK_TIMEOUT_MS) })
  if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`)
}

/** Strips what must never reach a log or a hook: nothing in an event is secret, but errors can quote commands. */
export function eventLine(e: WatchEvent): string {
  return JSON.stringify(e)
}
