// The soak: the system runs with node-a active while node-a's cable loses 20% of its frames
// both ways. A good watcher rides it out: every takeover is a false one, and every moment both
// nodes hold the VIP is a split brain a client could land in. Two holders come from the tests'
// invariant sampler (test/helpers/invariant.ts: fib_trie reads every 10 ms on a worker thread);
// takeovers from the system's own reports and, system-independently, from node-b gaining the VIP.
import { readFileSync } from 'node:fs'
import { holderPid } from '../../lib/lab/node.ts'
import type { NodePlan } from '../../lib/lab/plan.ts'
import { startInvariant } from '../../test/helpers/invariant.ts'
import { lossOff, lossOn, restoreNode } from './faults.ts'
import { sleep } from './proc.ts'
import type { BenchLab, System } from './trial.ts'

/**
 * Whether a node holds an address, from /proc/<pid>/net/fib_trie of its holder: nothing of ours
 * joins the namespace (an `ip -n` there would be frozen by a pause, killed by a power cut, and
 * count as "on" for the lab fencing driver). A powered-off node has no holder and holds nothing.
 */
export function holds(n: NodePlan, address: string): boolean {
  const pid = holderPid(n)
  if (!pid) return false
  let trie: string
  try {
    trie = readFileSync(`/proc/${pid}/net/fib_trie`, 'latin1')
  } catch {
    return false
  }
  const at = trie.indexOf(`|-- ${address}\n`)
  if (at < 0) return false
  const end = trie.indexOf('--', at + address.length + 5)
  return trie.slice(at, end < 0 ? undefined : end).includes('/32 host LOCAL')
}

/** Counts the times `n` starts holding `address`, sampled every everyMs until stop(). */
function gainCounter(n: NodePlan, address: string, everyMs = 10) {
  let prev = holds(n, address)
  let gains = 0
  const timer = setInterval(() => {
    const now = holds(n, address)
    if (now && !prev) gains++
    prev = now
  }, everyMs)
  return {
    stop: () => {
      clearInterval(timer)
      return gains
    },
  }
}

export interface SoakResult {
  seconds: number
  lossPercent: number
  /** Takeovers the system reported: keepalived backup MASTER transitions, hapair takeover-started. */
  takeovers: number
  /** Times node-b started holding the VIP. */
  standbyGains: number
  /** Episodes with both nodes holding the VIP, their total and longest duration. */
  twoHolders: number
  twoHoldersMs: number
  twoHoldersMaxMs: number
  /** Other invariant breaks (a singleton on both nodes), as the sampler words them. */
  otherViolations: string[]
  samples: number
  maxGapMs: number
  /** What the system logged meanwhile (its state changes or events, ms from the start of the loss). */
  events: unknown
}

export async function soak(sys: System, lab: BenchLab, seconds: number, lossPercent = 20): Promise<SoakResult> {
  await sys.arm()
  const inv = startInvariant(lab.testLab)
  await inv.ready
  const gains = gainCounter(lab.b, lab.vip)
  const t0 = Date.now()
  let standbyGains = 0
  let report
  try {
    await lossOn(lab.inv, lab.a.name, lossPercent)
    try {
      const end = t0 + seconds * 1000
      while (Date.now() < end) {
        await sleep(Math.min(10_000, end - Date.now()))
        lab.log(`  ${sys.name} soak: ${Math.round((Date.now() - t0) / 1000)}/${seconds} s, ${sys.takeovers(t0)} takeovers so far`)
      }
    } finally {
      await lossOff(lab.inv, lab.a.name)
    }
  } finally {
    standbyGains = gains.stop()
    report = await inv.stop()
  }
  const takeovers = sys.takeovers(t0)
  const events = sys.detail(t0)
  await sys.recover(() => restoreNode(lab.inv, lab.a.name))
  const vipHeld = report.violations.filter((v) => v.what.startsWith(`floating IP ${lab.vip} `))
  const ms = vipHeld.map((v) => (v.untilMs ?? report.durationMs) - v.atMs)
  return {
    seconds,
    lossPercent,
    takeovers,
    standbyGains,
    twoHolders: vipHeld.length,
    twoHoldersMs: ms.reduce((x, y) => x + y, 0),
    twoHoldersMaxMs: Math.max(0, ...ms),
    otherViolations: report.violations.filter((v) => !vipHeld.includes(v)).map((v) => `${v.what} at ${v.atMs} ms (${v.samples} samples)`),
    samples: report.samples,
    maxGapMs: report.maxGapMs,
    events,
  }
}
