// hapair's watcher as a System. Its CLI contract: `playbooks/watch.ts --inventory FILE --json`
// runs until SIGTERM and prints one JSON object per line: { at, ms, pair, event, node, ... } with
// event "started", "suspect", "confirmed", "vetoed", "no-quorum", "takeover-started",
// "takeover-done", "takeover-failed", ... Its takeover powers the old node off through the lab
// fencing driver; recover() powers it on and fails back, so every run starts from node-a active.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AUDIT_LOG, json, playbook } from '../../test/helpers/playbook.ts'
import { servedBy } from './poller.ts'
import { exitedWithin, processTree, track, untrack } from './proc.ts'
import type { BenchLab, System } from './trial.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
export const WATCH = path.join(root, 'playbooks', 'watch.ts')

export function watcherMissing(checkout?: string): string | undefined {
  if (checkout) return existsSync(path.join(checkout, 'playbooks', 'watch.ts')) ? undefined : `${checkout} has no playbooks/watch.ts`
  return existsSync(WATCH)
    ? undefined
    : 'playbooks/watch.ts does not exist yet (the watcher is being written); the hapair rows are skipped, rerun with --only hapair once it lands'
}

export interface WatchEvent {
  at?: string
  ms: number
  pair?: string
  event: string
  node?: string
  [k: string]: unknown
}

export class Watcher {
  readonly events: WatchEvent[] = []
  private stderr = ''
  private readonly waiters = new Set<() => void>()
  private readonly exited: Promise<void>
  private alive = true

  private constructor(private readonly child: ChildProcess) {
    track(child.pid!, 'watcher')
    let buf = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const arrived = Date.now()
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim()
        buf = buf.slice(i + 1)
        if (!line) continue
        try {
          const e = JSON.parse(line) as WatchEvent
          // The watcher's own clock is this machine's: its ms is when it decided, not when we read it.
          this.events.push({ ...e, ms: typeof e.ms === 'number' ? e.ms : arrived })
        } catch {
          this.stderr += `(not JSON on stdout) ${line}\n`
        }
      }
      for (const w of [...this.waiters]) w()
    })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000)
    })
    this.exited = new Promise((r) =>
      child.once('exit', () => {
        this.alive = false
        untrack(child.pid!)
        for (const w of [...this.waiters]) w()
        r()
      }),
    )
  }

  get pid(): number {
    return this.child.pid!
  }

  /** checkout: another hapair checkout whose watcher runs instead (a baseline, side by side in one run). */
  static start(file: string, checkout = root): Watcher {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HAPAIR_AUDIT_LOG: AUDIT_LOG }
    delete env.FORCE_COLOR
    return new Watcher(
      spawn(process.execPath, ['--import', 'tsx', path.join(checkout, 'playbooks', 'watch.ts'), '--inventory', file, '--json'], {
        cwd: checkout,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
  }

  /** The first event at or after sinceMs that matches; undefined after timeoutMs or once the watcher has exited. */
  waitEvent(match: (e: WatchEvent) => boolean, sinceMs: number, timeoutMs: number): Promise<WatchEvent | undefined> {
    const find = () => this.events.find((e) => e.ms >= sinceMs && match(e))
    return new Promise((resolve) => {
      const check = () => {
        const e = find()
        if (e || !this.alive) {
          this.waiters.delete(check)
          clearTimeout(t)
          resolve(e)
        }
      }
      const t = setTimeout(() => {
        this.waiters.delete(check)
        resolve(find())
      }, timeoutMs)
      this.waiters.add(check)
      check()
    })
  }

  tail(): string {
    return this.stderr.trim().split('\n').slice(-5).join(' / ')
  }

  /** SIGTERM by pid (the contract), SIGKILL of its process tree if it lingers. */
  async stop(): Promise<void> {
    if (!this.alive) return
    try {
      process.kill(this.pid, 'SIGTERM')
    } catch {
      /* gone */
    }
    if (await exitedWithin(this.exited, 10_000)) return
    for (const p of processTree(this.pid).reverse()) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    await exitedWithin(this.exited, 2000)
  }
}

/** After "started": the watcher has a first round of probes before the fault comes. */
const SETTLE_MS = 1000

/** checkout: another hapair checkout's watcher (--baseline), through the same runs in the same lab. */
export function hapairSystem(lab: BenchLab, checkout?: string): System {
  const pair = lab.a.pair
  let w: Watcher | undefined
  const ofPair = (e: WatchEvent) => !e.pair || e.pair === pair
  const toNodeA = async (args: string[]) => {
    const r = await playbook(args[0], ['--inventory', lab.file, ...args.slice(1), '--yes', '--json'], { timeoutMs: 180_000 })
    if (r.code !== 0) throw new Error(`${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`)
    if ((await servedBy(lab.vip, lab.a.name, 15_000)) === undefined) throw new Error(`after ${args[0]}, ${lab.vip} does not answer as ${lab.a.name}`)
    return json(r)
  }
  return {
    name: checkout ? 'baseline' : 'hapair',
    async arm() {
      // A system run before (keepalived) leaves no VIP: converge to node-a active first.
      if ((await servedBy(lab.vip, lab.a.name, 2000)) === undefined) await toNodeA(['failover', '--to', lab.a.name])
      const since = Date.now()
      w = Watcher.start(lab.file, checkout)
      if (!(await w.waitEvent((e) => e.event === 'started' && ofPair(e), since, 30_000)))
        throw new Error(`the watcher did not print "started" within 30 s: ${w.tail()}`)
      await new Promise((r) => setTimeout(r, SETTLE_MS))
      const early = w.events.find((e) => e.event.startsWith('takeover') && ofPair(e))
      if (early) throw new Error(`the watcher started a takeover before any fault: ${JSON.stringify(early)}`)
    },
    async detected(t0, limitMs) {
      return (await w!.waitEvent((e) => e.event === 'confirmed' && ofPair(e) && (!e.node || e.node === lab.a.name), t0, limitMs))?.ms
    },
    takeovers: (t0) => w?.events.filter((e) => e.event === 'takeover-started' && ofPair(e) && e.ms >= t0).length ?? 0,
    async recover(restore) {
      // The watcher goes first: it must not react to node-a coming back.
      await w?.stop()
      w = undefined
      await restore()
      // The takeover left node-b active at a higher epoch; failback syncs back and returns.
      await toNodeA(['failback'])
    },
    async close() {
      await w?.stop()
      w = undefined
    },
    async settled(t0) {
      await w?.waitEvent((e) => ofPair(e) && (e.event === 'takeover-done' || e.event === 'takeover-failed'), t0, 15_000)
    },
    // takeover-done's steps say where the time after the verdict went (ms each).
    detail: (t0) =>
      w?.events
        .filter((e) => e.ms >= t0 && ofPair(e))
        .map((e) => ({ event: e.event, node: e.node, ms: e.ms - t0, ...(e.steps ? { steps: e.steps, rtoMs: e.rtoMs } : {}) })),
  }
}
