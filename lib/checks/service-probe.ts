// A service's declared health checks, run the way a client meets the service: HTTP and TCP
// from the controller against an address (lib/probe.ts, shared with failover's post-check),
// a `command` check on the node that should serve.
import { RemoteError } from '../errors.ts'
import type { HealthCheck } from '../inventory/schema.ts'
import { probe } from '../probe.ts'
import type { NodeSession } from '../ssh.ts'

export interface ProbeOutcome { ok: boolean; detail: string }

export async function commandProbe(s: NodeSession, c: HealthCheck): Promise<ProbeOutcome> {
  const limit = c.timeoutMs ?? 2000
  try {
    const r = await s.run({ script: c.command! }, { check: false, timeoutMs: limit })
    if (r.ok) return { ok: true, detail: `\`${c.command}\` on ${s.name}` }
    const why = r.stderr.trim().split('\n').pop()
    return { ok: false, detail: `\`${c.command}\` on ${s.name} exited ${r.code}${why ? `: ${why}` : ''}` }
  } catch (e) {
    // A check that hangs is a failed check, not an unreachable node.
    if (e instanceof RemoteError && e.timedOut && !e.unreachable) return { ok: false, detail: `\`${c.command}\` on ${s.name} did not finish within ${limit} ms` }
    throw e
  }
}

/** `node` is whose name `{node}` in an expectation stands for: the node that should be serving. */
export async function runHealthCheck(host: string, c: HealthCheck, node: string, s: NodeSession): Promise<ProbeOutcome> {
  if (c.protocol === 'command') return commandProbe(s, c)
  const r = await probe(host, c, node)
  return { ok: r.ok, detail: r.detail }
}
