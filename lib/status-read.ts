// What status reads of hapair's own files on each node, in one command per node instead of
// three: the records (state.ts), the operation lock with its journal (lock.ts) and the
// follower's in-flight list (sync/follow/inflight.ts). Each part is its reader's own script and
// parser, so status and the playbooks that act can never read a file two ways. The lock and the
// list were read after the records before; asked together, status waits one round trip less.
import type { Pair } from './inventory/schema.ts'
import { RemoteError } from './errors.ts'
import type { SshPool } from './ssh.ts'
import { viewOf, type ActiveView } from './active.ts'
import { nodeStateScript, parseNodeState, type ReadState } from './state.ts'
import { lockDirScript, parseLockDir } from './lock.ts'
import { inflightScript, parseInflight, type ReadInflight } from './sync/follow/inflight.ts'
import { sectionsScript, splitSections } from './sections.ts'

const PARTS = ['state', 'lock', 'inflight'] as const

export interface StatusRead {
  /** activeView's answer, from the same records. */
  view: ActiveView
  /** Per node that answered: its lock's raw owner and journal texts, when it has a lock. */
  locks: Record<string, { owner: string; journal: string } | undefined>
  /** Per node that answered: readInflight's answer. */
  inflight: Record<string, ReadInflight>
}

export function statusReadScript(pair: Pair): string {
  return sectionsScript([
    ['state', nodeStateScript(pair)],
    ['lock', lockDirScript(pair)],
    ['inflight', inflightScript(pair)],
  ])
}

/** One node's answer to statusReadScript, each part parsed by its reader's parser; undefined when a part is missing. Pure. */
export function parseStatusRead(
  stdout: string,
  pair: Pair,
  node: string,
): { state: ReadState; lock?: { owner: string; journal: string }; inflight: ReadInflight } | undefined {
  const parts = splitSections(stdout, PARTS)
  if (!parts) return undefined
  return { state: parseNodeState(parts.state, pair), lock: parseLockDir(parts.lock), inflight: parseInflight(parts.inflight, pair, node) }
}

export async function readStatus(pool: SshPool, pair: Pair): Promise<StatusRead> {
  const script = statusReadScript(pair)
  const states: Record<string, ReadState> = {}
  const errors: Record<string, RemoteError> = {}
  const locks: StatusRead['locks'] = {}
  const inflight: StatusRead['inflight'] = {}
  await Promise.all(
    pair.nodes.map(async (n) => {
      try {
        const r = await pool.session(pair, n).run({ script })
        const got = parseStatusRead(r.stdout, pair, n.name)
        if (!got)
          throw new RemoteError(
            `status's read printed no complete answer (${r.stdout.length} bytes): a record holds the section marker, or the command was cut short`,
            { node: n.name, host: n.address },
          )
        states[n.name] = got.state
        locks[n.name] = got.lock
        inflight[n.name] = got.inflight
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        errors[n.name] = e
      }
    }),
  )
  return { view: viewOf(pair, states, errors), locks, inflight }
}
