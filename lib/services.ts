// Starting, stopping and asking about a pair's services on one node, with the inventory's own
// commands. Each call is idempotent as long as the commands are (the lab's are; systemctl's are).
import type { Pair, Service } from './inventory/schema.ts'
import type { NodeSession } from './ssh.ts'
import { primaryStatusScript } from './postgres/role.ts'

export async function isRunning(s: NodeSession, svc: Service): Promise<boolean> {
  // A PostgreSQL service "runs" where it is the primary: a streaming standby is not a second writer.
  return (await s.run({ script: svc.postgresql ? primaryStatusScript(svc) : svc.status }, { check: false, timeoutMs: 10000 })).code === 0
}

export async function runningServices(s: NodeSession, pair: Pair): Promise<Record<string, boolean>> {
  const list = pair.services ?? []
  const states = await Promise.all(list.map((svc) => isRunning(s, svc)))
  return Object.fromEntries(list.map((svc, i) => [svc.name, states[i]]))
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
