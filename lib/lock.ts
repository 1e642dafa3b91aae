// A per-pair operation lock held on the nodes themselves, so an operator on another machine is
// stopped too. mkdir is atomic on every POSIX filesystem; the owner file says who, since when,
// until when. Nodes are locked in name order so two contenders cannot each hold half forever.
import os from 'node:os'
import { stateDir } from './inventory/load.ts'
import type { Pair } from './inventory/schema.ts'
import { RefusedError, RemoteError } from './errors.ts'
import { sh } from './shell.ts'
import type { SshPool } from './ssh.ts'

export interface LockOwner {
  owner: string
  host: string
  pid: number
  operation: string
  at: string
  expires: string
}

/** Journal of an operation in progress, kept beside the lock so a re-run can finish the job. */
export interface Journal {
  operation: string
  from: string
  to: string
  epoch: number
  steps: string[]
}

export interface HeldLock {
  owner: LockOwner
  nodes: string[]
  /** Nodes that could not be asked (and so are not locked), with why. */
  unreachable: Record<string, string>
  /** A journal left by an interrupted run of the same operation, if any. */
  resumed?: Journal
  journal(j: Journal): Promise<void>
  release(): Promise<void>
}

const LOCK_MS = 10 * 60 * 1000

function lockDir(pair: Pair) { return `${stateDir(pair)}/lock` }

/** Whether a lock can be taken over without --break-lock: expired, or left by a dead process on this same host. */
export function isStale(o: LockOwner, now = Date.now(), alive = pidAlive): boolean {
  if (Date.parse(o.expires) < now) return true
  return o.host === os.hostname() && !alive(o.pid)
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' }
}

export function describeOwner(o: LockOwner): string {
  return `${o.owner} (${o.operation}, since ${o.at}, expires ${o.expires})`
}

export async function acquireLock(pool: SshPool, pair: Pair, operation: string, opts: { breakLock?: boolean } = {}): Promise<HeldLock> {
  const user = process.env.SUDO_USER || os.userInfo().username
  const now = Date.now()
  const owner: LockOwner = {
    owner: `${user}@${os.hostname()} pid ${process.pid}`, host: os.hostname(), pid: process.pid, operation,
    at: new Date(now).toISOString(), expires: new Date(now + LOCK_MS).toISOString(),
  }
  const dir = lockDir(pair)
  const names = pair.nodes.map((n) => n.name).sort()
  const held: string[] = []
  const unreachable: Record<string, string> = {}
  let resumed: Journal | undefined
  const body = JSON.stringify(owner)
  // Prints "acquired", or "held" followed by the owner and journal files of whoever has it.
  const take = sh`mkdir -p ${stateDir(pair)} && if mkdir ${dir} 2>/dev/null; then cat > ${dir}/owner && echo acquired; else echo held; cat ${dir}/owner; echo; cat ${dir}/journal 2>/dev/null; exit 0; fi`
  const release = async () => {
    await Promise.all(held.map((n) => pool.session(pair, n).run(['rm', '-rf', '--', dir], { check: false }).catch(() => undefined)))
  }
  // Connect to every node at once first; the locking itself must go in name order.
  await Promise.allSettled(names.map((n) => pool.session(pair, n).ping()))
  try {
    for (const name of names) {
      const s = pool.session(pair, name)
      let r
      try {
        r = await s.run({ script: take }, { input: body })
      } catch (e) {
        // The node we may be about to fence is often the one we cannot reach: lock the rest.
        if (e instanceof RemoteError && (e.unreachable || e.timedOut)) { unreachable[name] = e.message; continue }
        throw e
      }
      if (r.stdout.startsWith('held')) {
        const [, ownerLine, journalLine] = r.stdout.split('\n')
        let other: LockOwner | undefined
        try { other = JSON.parse(ownerLine) } catch { /* a half-written owner file: treat as stale */ }
        const stale = !other || isStale(other)
        if (!stale && !opts.breakLock) {
          throw new RefusedError(`pair ${pair.name} is locked on ${name} by ${describeOwner(other!)}; wait for it, or if that run is dead, re-run with --break-lock`)
        }
        if (journalLine?.trim()) { try { resumed = JSON.parse(journalLine) } catch { /* unreadable journal: nothing to resume */ } }
        // Stale or explicitly broken: replace the owner (the directory, and any journal, stay).
        r = await s.run({ script: sh`mkdir -p ${dir} && cat > ${dir}/owner.tmp && mv -f ${dir}/owner.tmp ${dir}/owner && echo acquired` }, { input: body })
      }
      held.push(name)
    }
    if (held.length === 0) throw new RefusedError(`no node of pair ${pair.name} is reachable: ${Object.values(unreachable).join('; ')}`)
  } catch (e) {
    await release()
    throw e
  }
  return {
    owner, nodes: held, unreachable, resumed,
    async journal(j: Journal) {
      const line = JSON.stringify(j)
      await Promise.all(held.map((n) => pool.session(pair, n)
        .run({ script: sh`cat > ${dir}/journal.tmp && mv -f ${dir}/journal.tmp ${dir}/journal` }, { input: line })
        .catch((e) => { if (!(e instanceof RemoteError)) throw e })))
    },
    release,
  }
}
