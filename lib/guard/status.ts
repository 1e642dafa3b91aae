// What the guard on one node is doing, read in one round trip: installed, running (by pid, the
// same check systemd-less and systemd installs share), armed or not and for how long, and the
// last time it stepped down.
import type { Pair } from '../inventory/schema.ts'
import { RemoteError } from '../errors.ts'
import { sh } from '../shell.ts'
import { guardFiles } from './script.ts'
import { guardPidFunction, parseLease } from './lease.ts'
import type { GuardRunner } from './runner.ts'

export type GuardWord = 'armed' | 'disarmed' | 'expired' | 'stepped-down'

export interface GuardNodeStatus {
  node: string
  /** false: the node could not be asked (see error). */
  reachable: boolean
  installed: boolean
  running: boolean
  pid?: number
  /** systemd when the node runs systemd (the unit hapair-guard@PAIR), else setsid. */
  manager?: 'systemd' | 'setsid'
  /** A lease file exists: the guard enforces it. */
  armed: boolean
  leaseUntil?: number
  leaseEpoch?: number
  /** Lease deadline minus the node's own clock (negative: run out). */
  remainingMs?: number
  /** The guard's own last state line. */
  state?: { word: GuardWord; until?: number; epoch?: number; at?: number }
  /** The last `stepped-down` log line, if any. */
  lastStepDown?: string
  error?: string
}

export function guardStatusScript(pair: Pair): string {
  const f = guardFiles(pair)
  return (
    `${guardPidFunction(pair)}
printf 'now=%s\\n' "$(date +%s%3N)"
` +
    sh`[ -f ${f.script} ] && [ -f ${f.config} ] && echo installed=1
p=$(guard_pid) && echo "pid=$p"
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then echo manager=systemd; else echo manager=setsid; fi
[ -f ${f.lease} ] && printf 'lease=%s\\n' "$(head -n 1 ${f.lease})"
[ -f ${f.state} ] && printf 'state=%s\\n' "$(head -n 1 ${f.state})"
l=$(grep -F 'stepped-down:' ${f.log} 2>/dev/null | tail -n 1) && printf 'stepdown=%s\\n' "$l"
exit 0`
  )
}

/** Parses guardStatusScript's output. Pure. */
export function parseGuardStatus(node: string, out: string): GuardNodeStatus {
  const kv = new Map<string, string>()
  for (const line of out.split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1))
  }
  const num = (s: string | undefined) => (s && /^\d+$/.test(s) ? Number(s) : undefined)
  const now = num(kv.get('now'))
  const lease = parseLease(kv.get('lease'))
  const st: GuardNodeStatus = {
    node,
    reachable: true,
    installed: kv.get('installed') === '1',
    running: num(kv.get('pid')) !== undefined,
    pid: num(kv.get('pid')),
    manager: kv.get('manager') === 'systemd' ? 'systemd' : 'setsid',
    armed: kv.has('lease'),
  }
  if (lease) {
    st.leaseUntil = lease.until
    st.leaseEpoch = lease.epoch
    if (now !== undefined) st.remainingMs = lease.until - now
  } else if (kv.has('lease')) {
    // An unreadable lease counts as run out (that is how the guard reads it).
    st.leaseUntil = 0
    if (now !== undefined) st.remainingMs = -now
  }
  const [w, u, e, at] = (kv.get('state') ?? '').split(' ')
  if (w === 'armed' || w === 'disarmed' || w === 'expired' || w === 'stepped-down') st.state = { word: w, until: num(u), epoch: num(e), at: num(at) }
  if (kv.get('stepdown')) st.lastStepDown = kv.get('stepdown')
  return st
}

export async function readGuardStatus(run: GuardRunner, pair: Pair, node: string): Promise<GuardNodeStatus> {
  try {
    const r = await run(guardStatusScript(pair))
    if (r.code !== 0)
      return { node, reachable: true, installed: false, running: false, armed: false, error: `status script exit ${r.code}: ${r.stderr.trim()}` }
    return parseGuardStatus(node, r.stdout)
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e
    return { node, reachable: !e.notAsked, installed: false, running: false, armed: false, error: e.message }
  }
}

/** Whether the guard has given everything up for the lease the node holds now. */
export function steppedDownForLease(s: GuardNodeStatus): boolean {
  if (!s.armed || s.remainingMs === undefined || s.remainingMs >= 0 || !s.state) return false
  return (s.state.word === 'stepped-down' || s.state.word === 'expired') && s.state.until === s.leaseUntil && s.state.epoch === (s.leaseEpoch ?? 0)
}

const ago = (ms: number) => (ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`)

/** One line per node, for a person. Pure. */
export function formatGuardStatus(s: GuardNodeStatus): string {
  if (!s.reachable || s.error) return `${s.node.padEnd(10)} UNKNOWN: ${s.error}`
  const run = s.running ? `running (pid ${s.pid}, ${s.manager})` : s.installed ? 'NOT RUNNING (installed)' : 'NOT INSTALLED'
  const lease = !s.armed
    ? 'disarmed (no lease)'
    : s.remainingMs === undefined
      ? 'armed'
      : s.remainingMs >= 0
        ? `armed: lease ${s.remainingMs} ms left (epoch ${s.leaseEpoch ?? '?'})`
        : `lease run out ${ago(-s.remainingMs)} ago${steppedDownForLease(s) ? ` (${s.state!.word})` : ''}`
  return `${s.node.padEnd(10)} ${run}; ${lease}; last step-down: ${s.lastStepDown ?? 'never'}`
}
