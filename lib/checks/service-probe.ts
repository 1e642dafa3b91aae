// A service's declared health checks, run the way a client meets the service: HTTP and TCP
// from the controller against an address (lib/probe.ts), a `command` check on the node that
// should serve. runServiceChecks is the one runner: verify asks it once, failover's post-check
// asks it until it passes (serviceChecksUntil).
import { RemoteError } from '../errors.ts'
import type { HealthCheck, Node, Pair } from '../inventory/schema.ts'
import { probe } from '../probe.ts'
import type { NodeSession, SshPool } from '../ssh.ts'

export interface ProbeOutcome {
  ok: boolean
  detail: string
}

export const DEFAULT_CHECK_TIMEOUT_MS = 2000

export async function commandProbe(s: NodeSession, c: HealthCheck): Promise<ProbeOutcome> {
  const limit = c.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS
  try {
    const r = await s.run({ script: c.command! }, { check: false, timeoutMs: limit })
    if (r.ok) return { ok: true, detail: `\`${c.command}\` on ${s.name}` }
    const why = r.stderr.trim().split('\n').pop()
    return { ok: false, detail: `\`${c.command}\` on ${s.name} exited ${r.code}${why ? `: ${why}` : ''}` }
  } catch (e) {
    // A check that hangs is a failed check, not an unreachable node.
    if (e instanceof RemoteError && e.timedOut && !e.unreachable)
      return { ok: false, detail: `\`${c.command}\` on ${s.name} did not finish within ${limit} ms` }
    throw e
  }
}

/** `node` is whose name `{node}` in an expectation stands for: the node that should be serving. */
export async function runHealthCheck(host: string, c: HealthCheck, node: string, s: NodeSession): Promise<ProbeOutcome> {
  if (c.protocol === 'command') return commandProbe(s, c)
  const r = await probe(host, c, node)
  return { ok: r.ok, detail: r.detail }
}

export interface ServiceCheckTarget {
  /** The node that should serve: `{node}` in expectations, and where command checks run. */
  node: string | Node
  /** Where clients meet the services (floating IPs, else the node's address); http/tcp checks go through each. */
  addresses: string[]
  /** Caps each network attempt below the check's own timeoutMs (failover's short first attempts). */
  attemptMs?: number
  /** Only these services (by name); default every service of the pair. */
  services?: string[]
}

export interface ServiceCheckResult {
  ok: boolean
  /** "svc: detail", one per failed check and address. */
  failures: string[]
  /** "svc: detail", one per passed check and address. */
  passed: string[]
  /** Checks declared (each once, whatever the number of addresses). */
  count: number
}

type Pool = Pick<SshPool, 'session'>

/**
 * Every declared check of every service, at once: http/tcp through each address, command
 * checks once on the node, each with its own timeoutMs. A node that cannot be asked fails its
 * command checks with why (the run goes on); anything but a RemoteError is a bug and throws.
 */
export async function runServiceChecks(pool: Pool, pair: Pair, t: ServiceCheckTarget): Promise<ServiceCheckResult> {
  const failures: string[] = []
  const passed: string[] = []
  const node = typeof t.node === 'string' ? t.node : t.node.name
  const services = (pair.services ?? []).filter((svc) => !t.services || t.services.includes(svc.name))
  const checks = services.flatMap((svc) => svc.checks.map((c) => ({ svc: svc.name, c })))
  const one = async (svc: string, run: () => Promise<ProbeOutcome>) => {
    let o: ProbeOutcome
    try {
      o = await run()
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e
      o = { ok: false, detail: e.message }
    }
    ;(o.ok ? passed : failures).push(`${svc}: ${o.detail}`)
  }
  const limit = (c: HealthCheck) => Math.min(c.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, t.attemptMs ?? Infinity)
  await Promise.all(
    checks.flatMap(({ svc, c }) =>
      c.protocol === 'command'
        ? [one(svc, () => commandProbe(pool.session(pair, node) as NodeSession, c))]
        : t.addresses.map((a) =>
            one(svc, async () => {
              const r = await probe(a, { ...c, timeoutMs: limit(c) }, node)
              return { ok: r.ok, detail: r.detail }
            }),
          ),
    ),
  )
  return { ok: failures.length === 0, failures, passed, count: checks.length }
}

export interface UntilOptions extends Omit<ServiceCheckTarget, 'attemptMs'> {
  /** Overall deadline from the call; the last attempt may finish up to one check timeout after it. */
  deadlineMs: number
  /** First network attempt's cap; doubles per attempt up to each check's own timeout. Default 100. */
  firstAttemptMs?: number
  /** Pause between attempts. Default 20. */
  pauseMs?: number
}

export interface UntilResult extends ServiceCheckResult {
  attempts: number
  ms: number
}

/**
 * runServiceChecks until every check passes or the deadline is past: failover's post-check.
 * A connection opened while a client's ARP entry still names the old node is lost, and TCP
 * would retry it only after a second: short attempts first, growing up to the check's timeout.
 * Returns the last attempt's result (ok false when the deadline passed); it never throws for a failed check.
 */
export async function serviceChecksUntil(pool: Pool, pair: Pair, o: UntilOptions): Promise<UntilResult> {
  const started = Date.now()
  const deadline = started + o.deadlineMs
  const first = o.firstAttemptMs ?? 100
  for (let attempt = 0; ; attempt++) {
    const r = await runServiceChecks(pool, pair, { node: o.node, addresses: o.addresses, services: o.services, attemptMs: first * 2 ** attempt })
    if (r.ok || Date.now() > deadline) return { ...r, attempts: attempt + 1, ms: Date.now() - started }
    await new Promise((res) => setTimeout(res, o.pauseMs ?? 20))
  }
}
