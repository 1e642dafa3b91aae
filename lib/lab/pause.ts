// A hung machine: every process of the node stopped (SIGSTOP), the kernel still there. Ping is
// answered, TCP handshakes complete into the listen backlog, addresses stay, and nothing in
// userland answers: the case a failover tool must not mistake for "down" (the node may wake up
// holding everything) nor for "up".
import { readFileSync } from 'node:fs'
import { HapairError } from '../errors.ts'
import { holderPid, nsPids } from './node.ts'
import type { NodePlan } from './plan.ts'
import { sleep } from './proc.ts'

/** The state letter of /proc/PID/stat (R, S, T, Z…), or undefined once the process is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

const stopped = (pid: number) => {
  const s = procState(pid)
  return s === undefined || s === 'T' || s === 't' || s === 'Z' || s === 'X'
}

/** Paused = its holder is stopped: only `pause` stops it (a test stopping one service is not a hung node). */
export function isPaused(n: NodePlan): boolean {
  const pid = holderPid(n)
  return pid !== undefined && procState(pid) === 'T'
}

/** SIGSTOPs everything in the node until a sweep finds nothing new (a fork may race the first). */
export async function pauseNode(n: NodePlan): Promise<number> {
  if (!holderPid(n)) throw new HapairError(`${n.name} is powered off; there is nothing to pause`)
  const sent = new Set<number>()
  for (let i = 0; i < 50; i++) {
    const fresh = nsPids(n.ns).filter((p) => !sent.has(p))
    if (!fresh.length) break
    for (const pid of fresh) {
      try {
        process.kill(pid, 'SIGSTOP')
        sent.add(pid)
      } catch {
        /* exited */
      }
    }
    await sleep(5)
  }
  // Delivery is asynchronous: return once every process really sits stopped.
  for (let i = 0; i < 200 && ![...sent].every(stopped); i++) await sleep(5)
  const left = nsPids(n.ns).filter((p) => !stopped(p))
  if (left.length) throw new HapairError(`${n.name}: processes still running after SIGSTOP: ${left.join(' ')}`)
  return sent.size
}

/** SIGCONTs everything in the node; returns how many were stopped. */
export function resumeNode(n: NodePlan): number {
  let woken = 0
  for (const pid of nsPids(n.ns)) {
    const s = procState(pid)
    try {
      process.kill(pid, 'SIGCONT')
      if (s === 'T' || s === 't') woken++
    } catch {
      /* exited */
    }
  }
  return woken
}

/** Whether anything in the node sits stopped (heal-all resumes those nodes). */
export const hasStopped = (n: NodePlan) => nsPids(n.ns).some((p) => procState(p) === 'T')
