// Runs `sync.ts --follow` as a real child process (so it can be SIGKILLed) and collects its
// event lines, for the follower's lab tests and its benchmark.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface FollowEventLine {
  at: string
  pair: string
  event: string
  [k: string]: any
}

export interface FollowChild {
  proc: ChildProcess
  events: FollowEventLine[]
  stderr(): string
  /** Resolves with the first event (from index `from` on) that matches; rejects after ms. */
  waitFor(pred: (e: FollowEventLine) => boolean, ms?: number, from?: number): Promise<FollowEventLine>
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>
  kill(): Promise<void>
}

export function startFollowChild(inventory: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): FollowChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'playbooks/sync.ts', '--follow', '--inventory', inventory, ...extra], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  const events: FollowEventLine[] = []
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString('utf8')
    let nl
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl)
      out = out.slice(nl + 1)
      try {
        events.push(JSON.parse(line))
      } catch {
        err += `(not an event) ${line}\n`
      }
      if (process.env.FOLLOW_DEBUG) console.error('event:', line.slice(0, 400))
    }
    for (const w of [...waiters]) w()
  })
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8')
    if (process.env.FOLLOW_DEBUG) process.stderr.write(d)
  })
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (c) => {
      for (const w of [...waiters]) w()
      r(c)
    }),
  )
  return {
    proc,
    events,
    stderr: () => err,
    waitFor(pred, ms = 30_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = events.slice(from).find(pred)
          if (e) {
            done()
            resolve(e)
            return
          }
          if (proc.exitCode !== null) {
            done()
            reject(
              new Error(`the follower exited (${proc.exitCode}) before the event; stderr: ${err.slice(-2000)}; events: ${JSON.stringify(events.slice(-5))}`),
            )
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`timed out after ${ms} ms waiting for an event; last events: ${JSON.stringify(events.slice(-8))}; stderr: ${err.slice(-1500)}`))
        }, ms)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      const c = await exited
      clearTimeout(t)
      return c
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode) return
      proc.kill('SIGKILL')
      await exited
    },
  }
}
