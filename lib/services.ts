// Starting, stopping and asking about a pair's services on one node, with the inventory's own
// commands. Each call is idempotent as long as the commands are (the lab's are; systemctl's are).
import type { Pair, Service } from './inventory/schema.ts'
import type { NodeSession } from './ssh.ts'
import { primaryStatusScript } from './postgres/role.ts'
import { RemoteError } from './errors.ts'
import { shq } from './shell.ts'

export async function isRunning(s: NodeSession, svc: Service): Promise<boolean> {
  // A PostgreSQL service "runs" where it is the primary: a streaming standby is not a second writer.
  return (await s.run({ script: svc.postgresql ? primaryStatusScript(svc) : svc.status }, { check: false, timeoutMs: 10000 })).code === 0
}

/**
 * Every service's status command at once, in one remote command: each runs in its own
 * background subshell (stdin closed, output dropped, as when it was a command of its own), and
 * prints its index and exit code. One channel for all of them instead of one each; the same
 * time bound, since they run side by side as they did on their own channels.
 */
export function servicesStatusScript(pair: Pair): string {
  const jobs = (pair.services ?? []).map(
    (svc, i) => `( ( eval ${shq(svc.postgresql ? primaryStatusScript(svc) : svc.status)} ) </dev/null >/dev/null 2>&1; printf '%s %s\\n' ${i} "$?" ) &`,
  )
  return [...jobs, 'wait', 'exit 0'].join('\n')
}

/** Running (exit 0) or not per service, from servicesStatusScript's output; undefined when a service's line is missing. Pure. */
export function parseServicesStatus(stdout: string, pair: Pair): Record<string, boolean> | undefined {
  const codes = new Map<number, number>()
  for (const line of stdout.split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line.trim())
    if (m) codes.set(Number(m[1]), Number(m[2]))
  }
  const list = pair.services ?? []
  if (list.some((_, i) => !codes.has(i))) return undefined
  return Object.fromEntries(list.map((svc, i) => [svc.name, codes.get(i) === 0]))
}

export async function runningServices(s: NodeSession, pair: Pair): Promise<Record<string, boolean>> {
  if (!pair.services?.length) return {}
  const r = await s.run({ script: servicesStatusScript(pair) }, { check: false, timeoutMs: 10000 })
  const states = parseServicesStatus(r.stdout, pair)
  if (!states)
    throw new RemoteError(`the services' status commands printed no complete answer (exit ${r.code}): the command was cut short`, {
      node: s.name,
      host: s.host,
    })
  return states
}

/** Stops every service on the node: a fenced node must not write anything. */
export async function stopServices(s: NodeSession, pair: Pair): Promise<string[]> {
  const list = pair.services ?? []
  await Promise.all(list.map((svc) => s.run({ script: svc.stop })))
  return list.map((x) => x.name)
}

/** Starts every service on the node (singletons first: they are what clients write to). */
export async function startServices(s: NodeSession, pair: Pair): Promise<string[]> {
  const list = [...(pair.services ?? [])].sort((a, b) => Number(!!b.singleton) - Number(!!a.singleton))
  await Promise.all(list.map((svc) => s.run({ script: svc.start })))
  return list.map((x) => x.name)
}

/** Whether each service's start command names a program that exists on the node. */
export async function startable(s: NodeSession, pair: Pair): Promise<string[]> {
  const missing: string[] = []
  await Promise.all(
    (pair.services ?? []).map(async (svc) => {
      const prog = svc.start.trim().split(/\s+/)[0]
      const r = await s.run(['sh', '-c', 'command -v "$1" >/dev/null 2>&1 || test -x "$1"', 'sh', prog], { check: false })
      if (r.code !== 0) missing.push(`${svc.name}: ${prog} not found on ${s.name}`)
    }),
  )
  return missing
}
