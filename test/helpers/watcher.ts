// A watcher run the way an operator runs it (playbooks/watch.ts as its own process, --json),
// with its events parsed as they come, for the lab matrix tests and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AUDIT_LOG, crashHook } from './playbook.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface WatcherProcess {
  child: ChildProcess
  events: any[]
  stderr(): string
  /** The first event (from index `from` on) that matches; rejects after timeoutMs. */
  waitFor(pred: (e: any) => boolean, timeoutMs: number, from?: number): Promise<any>
  count(name: string, from?: number): number
  /** SIGTERM (by PID), SIGKILL after a grace; resolves with the exit code. */
  stop(): Promise<number | null>
  exited: Promise<number | null>
}

export function startWatcher(inventory: string, opts: { env?: Record<string, string>; args?: string[] } = {}): WatcherProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HAPAIR_AUDIT_LOG: AUDIT_LOG, ...opts.env }
  delete env.FORCE_COLOR
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...crashHook(env), path.join('playbooks', 'watch.ts'), '--inventory', inventory, '--json', ...(opts.args ?? [])],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const events: any[] = []
  let err = ''
  let buf = ''
  const waiters = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      try {
        events.push(JSON.parse(line))
      } catch {
        err += `(not JSON) ${line}\n`
      }
    }
    for (const w of waiters) w()
  })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < 100_000) err += d
  })
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      for (const w of waiters) w()
      resolve(code)
    }),
  )
  let closed = false
  void exited.then(() => {
    closed = true
  })
  return {
    child,
    events,
    exited,
    stderr: () => err,
    count: (name, from = 0) => events.slice(from).filter((e) => e.event === name).length,
    waitFor(pred, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.slice(from).find(pred)
          if (hit) {
            done()
            resolve(hit)
            return
          }
          if (closed) {
            done()
            reject(new Error(`watcher exited before the event; events: ${events.map((e) => e.event).join(', ')}; stderr: ${err.slice(-2000)}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(
            new Error(
              `no such event within ${timeoutMs} ms; events: ${JSON.stringify(events.slice(from).map(({ at: _a, ms: _m, pair: _p, ...e }) => e)).slice(0, 6000)}; stderr: ${err.slice(-2000)}`,
            ),
          )
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async stop() {
      if (closed) return exited
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 8000)
      const code = await exited
      clearTimeout(t)
      return code
    },
  }
}
