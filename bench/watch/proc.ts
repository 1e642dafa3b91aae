// Processes the bench starts outside the lab's namespaces (the watcher) or inside them
// (keepalived): tracked by pid so that any exit, Ctrl-C included, kills exactly those, and
// their CPU is read from /proc, children included.
import { readdirSync, readFileSync } from 'node:fs'

/** Fields of /proc/PID/stat after the command name: index = field number - 3. */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.slice(s.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** pid -> parent pid of every process now. */
function parents(): Map<number, number> {
  const out = new Map<number, number>()
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    const f = statFields(Number(e))
    if (f) out.set(Number(e), Number(f[1]))
  }
  return out
}

/** root and everything below it, root first. */
export function processTree(root: number): number[] {
  const pp = parents()
  const out = [root]
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of pp) if (ppid === out[i]) out.push(pid)
  return out
}

/**
 * CPU ticks of a process tree: utime+stime of every live member plus cutime+cstime, which hold
 * the children each member has already reaped (a short-lived ssh or ip counts once, through its
 * parent, and a child alive at both readings counts directly both times).
 */
export function treeTicks(root: number): number {
  let t = 0
  for (const pid of processTree(root)) {
    const f = statFields(pid)
    if (f) t += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  }
  return t
}

/** USER_HZ: what /proc/PID/stat counts in; 100 on every Linux build this runs on. */
export const CLK_TCK = 100

const tracked = new Map<number, string>()
export const track = (pid: number, what: string) => {
  tracked.set(pid, what)
}
export const untrack = (pid: number) => {
  tracked.delete(pid)
}

/** Synchronous, for 'exit': SIGKILLs every tracked process and whatever it started. */
export function killTrackedSync(): void {
  for (const pid of [...tracked.keys()]) {
    for (const p of processTree(pid).reverse()) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    tracked.delete(pid)
  }
}

// Registered when run.ts first imports this, before any lab helper installs its own 'exit'
// teardown: the watcher must be dead before the lab is pulled from under it.
process.on('exit', killTrackedSync)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143))

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Resolves when the child has exited, or false after ms. */
export function exitedWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([exited.then(() => true), sleep(ms).then(() => false)])
}
