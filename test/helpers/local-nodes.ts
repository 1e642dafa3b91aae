// A two-node demo pair whose "nodes" are directories on this machine: each session runs its
// script with a real sh, the pair's state dir swapped for the node's own directory. For tests of
// the remote readers' scripts (status, the watcher's re-read) without a lab.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Pair } from '../../lib/inventory/schema.ts'
import { RemoteError } from '../../lib/errors.ts'
import type { NodeSession, SshPool } from '../../lib/ssh.ts'

export const STATE = '/var/lib/hapair/demo'
export const pair = {
  name: 'demo',
  primary: 'node-a',
  nodes: [
    { name: 'node-a', address: '198.51.100.251' },
    { name: 'node-b', address: '198.51.100.252' },
  ],
} as unknown as Pair

export interface LocalOptions {
  /** Nodes whose commands fail as a cut link would. */
  unreachable?: string[]
  /** Every command's node, in order. */
  runs?: string[]
}

/** root: the directory holding one directory per node (read at each call: tests make a new one each). */
export function localNodes(root: () => string) {
  const dirOf = (node: string) => path.join(root(), node)
  const localSession = (n: { name: string; address: string }, o: LocalOptions = {}) =>
    ({
      name: n.name,
      host: n.address,
      async run(cmd: { script: string }, opts: { check?: boolean } = {}) {
        o.runs?.push(n.name)
        if (o.unreachable?.includes(n.name)) throw new RemoteError(`unreachable on port 22: ETIMEDOUT`, { node: n.name, host: n.address, unreachable: true })
        const r = spawnSync('sh', ['-c', cmd.script.split(STATE).join(dirOf(n.name))], { encoding: 'utf8' })
        if (r.status !== 0 && opts.check !== false) throw new RemoteError(`exit ${r.status}`, { node: n.name, host: n.address })
        return {
          node: n.name,
          host: n.address,
          command: cmd.script,
          code: r.status,
          signal: null,
          stdout: r.stdout,
          stderr: r.stderr,
          durationMs: 0,
          ok: r.status === 0,
        }
      },
    }) as unknown as NodeSession
  const localPool = (o: LocalOptions = {}) =>
    ({
      session: (_p: Pair, n: string | { name: string; address: string }) => localSession(typeof n === 'string' ? pair.nodes.find((x) => x.name === n)! : n, o),
    }) as unknown as SshPool
  /** Writes a file into a node's state directory. */
  const put = (node: string, file: string, body: string) => {
    const f = path.join(dirOf(node), file)
    mkdirSync(path.dirname(f), { recursive: true })
    writeFileSync(f, body)
  }
  return { dirOf, localSession, localPool, put }
}
