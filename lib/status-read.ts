// What status reads on each node, in one command per node instead of four: the records
// (state.ts), the operation lock with its journal (lock.ts), the follower's in-flight list
// (sync/follow/inflight.ts) and the sync items' listing (freshness.ts; every node runs the same
// one, so it need not wait for the records to say which node is the reference). Each part is its
// reader's own script and parser, so status and the playbooks that act can never read a thing
// two ways. The lock, the list and the listings were asked after the records before.
import type { Pair } from './inventory/schema.ts'
import { RemoteError } from './errors.ts'
import type { SshPool } from './ssh.ts'
import { viewOf, type ActiveView } from './active.ts'
import { nodeStateScript, parseNodeState, type ReadState } from './state.ts'
import { lockDirScript, parseLockDir } from './lock.ts'
import { inflightScript, parseInflight, type ReadInflight } from './sync/follow/inflight.ts'
import { sectionsScript, splitSections } from './sections.ts'
import { LIST_TIMEOUT_MS, listingOf, listingPlan, type NodeListing } from './freshness.ts'

const PARTS = ['state', 'lock', 'inflight'] as const

export interface StatusRead {
  /** activeView's answer, from the same records. */
  view: ActiveView
  /** Per node that answered: its lock's raw owner and journal texts, when it has a lock. */
  locks: Record<string, { owner: string; journal: string } | undefined>
  /** Per node that answered: readInflight's answer. */
  inflight: Record<string, ReadInflight>
  /** Per node (an error for one that did not answer), its listing of the sync items, for behind(); empty with nothing to compare. */
  listed: Record<string, NodeListing>
}

/**
 * The listing goes last and is taken from its header to the end: it prints file names, which
 * may hold any byte but NUL and so the section marker too. The parts before it are hapair's
 * own files, so the first listing header is the real one.
 */
const LISTING = '\x1dhapair-listing\x1d'

export function statusReadScript(pair: Pair, listing?: string): string {
  return sectionsScript([
    ['state', nodeStateScript(pair)],
    ['lock', lockDirScript(pair)],
    ['inflight', inflightScript(pair)],
    ...(listing ? ([['listing', listing]] as const) : []),
  ])
}

/** One node's answer to statusReadScript, each part parsed by its reader's parser; undefined when a part is missing. Pure. */
export function parseStatusRead(
  stdout: string,
  pair: Pair,
  node: string,
  listingCount?: number,
): { state: ReadState; lock?: { owner: string; journal: string }; inflight: ReadInflight; listing?: NodeListing } | undefined {
  let head = stdout
  let listing: NodeListing | undefined
  if (listingCount !== undefined) {
    const at = stdout.indexOf(LISTING)
    if (at < 0) return undefined
    head = stdout.slice(0, at)
    listing = listingOf(stdout.slice(at + LISTING.length), listingCount, `on ${node}`)
  }
  const parts = splitSections(head, PARTS)
  if (!parts) return undefined
  return {
    state: parseNodeState(parts.state, pair),
    lock: parseLockDir(parts.lock),
    inflight: parseInflight(parts.inflight, pair, node),
    ...(listing ? { listing } : {}),
  }
}

export async function readStatus(pool: SshPool, pair: Pair): Promise<StatusRead> {
  const plan = listingPlan(pair)
  const script = statusReadScript(pair, plan?.script)
  const listed: StatusRead['listed'] = {}
  const states: Record<string, ReadState> = {}
  const errors: Record<string, RemoteError> = {}
  const locks: StatusRead['locks'] = {}
  const inflight: StatusRead['inflight'] = {}
  await Promise.all(
    pair.nodes.map(async (n) => {
      try {
        // A listing was allowed its own, longer bound (freshness.ts); the records wait with it.
        const r = await pool.session(pair, n).run({ script }, plan ? { timeoutMs: LIST_TIMEOUT_MS } : {})
        const got = parseStatusRead(r.stdout, pair, n.name, plan?.count)
        if (!got)
          throw new RemoteError(
            `status's read printed no complete answer (${r.stdout.length} bytes): a record holds the section marker, or the command was cut short`,
            { node: n.name, host: n.address },
          )
        states[n.name] = got.state
        locks[n.name] = got.lock
        inflight[n.name] = got.inflight
        if (got.listing) listed[n.name] = got.listing
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        errors[n.name] = e
        listed[n.name] = { error: e }
      }
    }),
  )
  return { view: viewOf(pair, states, errors), locks, inflight, listed }
}
