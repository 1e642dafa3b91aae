// A takeover whose watcher died half-way (killed, its host rebooted) leaves the pair locked
// with its journal: a fenced node, maybe an address not yet moved. A watcher that finds such a
// lock, stale by the lock's own rules (expired, or its owner's pid dead on this host), finishes
// the job the way an operator would, with failover.ts's resume: same target, same epoch.
import { byProgress, isStale, parseJournal, parseOwner, readLockDir, type Journal } from '../lock.ts'
import type { Pair } from '../inventory/schema.ts'
import { RemoteError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'

export async function interruptedRun(
  pool: SshPool,
  pair: Pair,
  skip: string[] = [],
  now = Date.now(),
): Promise<{ journal: Journal; node: string } | undefined> {
  const locks = await Promise.all(
    pair.nodes
      .filter((n) => !skip.includes(n.name))
      .map(async (n) => {
        try {
          return { node: n.name, lock: await readLockDir(pool.session(pair, n), pair, { timeoutMs: 3000 }) }
        } catch (e) {
          if (e instanceof RemoteError) return { node: n.name, lock: undefined }
          throw e
        }
      }),
  )
  return interruptedOf(pair, locks, now)
}

/** From each node's lock directory (readLockDir's texts; undefined: none, or not readable), the run to finish. Pure. */
export function interruptedOf(
  pair: Pair,
  locks: { node: string; lock?: { owner: string; journal: string } }[],
  now = Date.now(),
): { journal: Journal; node: string } | undefined {
  const found = locks.map(({ node, lock: l }) => {
    const owner = l && parseOwner(l.owner)
    if (!owner || !isStale(owner, now) || !l.journal.trim()) return undefined
    const j = parseJournal(l.journal, pair).journal
    return j ? { journal: j, node } : undefined
  })
  return found.filter((x): x is { journal: Journal; node: string } => !!x).sort((a, b) => byProgress(a.journal, b.journal))[0]
}
