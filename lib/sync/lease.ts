// Sync's share of the pair: a lease per run on every node it touches, shared with other syncs
// and exclusive against failover. Node-side, every rsync first writes its pid into the lease and
// only then checks the lock and the epoch; a failover creates its lock first and only then reads
// the pids (stopSyncs). So either the rsync sees the lock and never starts, or the failover sees
// the pid and kills it: nothing ships from a node that is no longer the active one.
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { RefusedError, RemoteError } from '../errors.ts'
import { stateDir } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { lockDir } from '../lock.ts'
import { leasesDir, STOPPED_EXIT } from './stop.ts'

export { stopSyncs, STOPPED_EXIT } from './stop.ts'
import { sh, shJoin } from '../shell.ts'
import type { SshPool } from '../ssh.ts'

export const LEASE_MS = 60_000

/** A sync that a failover stopped, or that found the pair taken: exit 3, nothing recorded. */
export class SyncStopped extends RefusedError {}

/** Sets $e to the node's recorded epoch as the fence compares it ("none" without a record). */
const epochSh = (pair: Pair) =>
  sh`e=$(sed -n 's/.*"epoch":[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p' ${`${stateDir(pair)}/active.json`} 2>/dev/null | head -n 1); [ -n "$e" ] || e=none`

export interface LockSeen {
  node: string
  lock?: string
  journal?: string
}

export interface Fence {
  readonly id: string
  /** Why the sync has to stop, once it has to. */
  stopped(): string | undefined
  /** One round trip: throws SyncStopped when node's lease is gone, the pair is locked or its epoch moved. */
  check(node: string): Promise<void>
  /** The node-side script that runs argv only if the fence holds, with its pid recorded where stopSyncs finds it. */
  wrap(node: string, argv: string[]): string
  /** Turns a fenced script's output into the stop reason (and records it). */
  stoppedBy(node: string, stdout: string): SyncStopped
  /** Marks the source's lease while a controller-run (sftp) item is in flight, so stopSyncs waits for it. */
  inFlight(node: string, on: boolean): Promise<void>
  end(): Promise<void>
}

export interface FenceOptions {
  /** The caller holds the pair's lock (failback's sync-back): the lock must stay that one. */
  lockId?: string
  lockHeld?: boolean
}

function checkSh(pair: Pair, dir: string | undefined, base: string, o: FenceOptions): string {
  const lock = lockDir(pair)
  const lockPart = o.lockId
    ? sh`grep -qF ${`"id":"${o.lockId}"`} ${`${lock}/owner`} 2>/dev/null || { echo lock; exit ${STOPPED_EXIT}; }`
    : o.lockHeld
      ? ':'
      : sh`if [ -e ${lock} ]; then echo lock; exit ${STOPPED_EXIT}; fi`
  return [
    dir ? sh`[ -d ${dir} ] || { echo lease; exit ${STOPPED_EXIT}; }` : ':',
    lockPart,
    epochSh(pair),
    sh`[ "$e" = ${base} ] || { echo "epoch $e"; exit ${STOPPED_EXIT}; }`,
  ].join('\n')
}

function reasonOf(node: string, stdout: string, base: string): string {
  const word = stdout.trim().split('\n').pop() ?? ''
  if (word === 'lock') return `stopped: a failover took the pair (its lock appeared on ${node})`
  if (word.startsWith('epoch')) return `stopped: a failover took the pair (${node}'s epoch moved from ${base} to ${word.slice(6)})`
  return `stopped: a failover took the pair (it ended this sync's lease on ${node})`
}

/**
 * Takes the lease on each node (one round trip each, at once) and reports any exclusive lock
 * seen there with its journal. The lease is written before the lock is looked at.
 */
export async function takeFence(
  pool: SshPool,
  pair: Pair,
  nodes: string[],
  o: FenceOptions = {},
): Promise<{ fence: Fence; seen: LockSeen[]; epochs: Record<string, string> }> {
  const id = `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
  const dir = `${leasesDir(pair)}/${id}`
  const lock = lockDir(pair)
  const owner = () =>
    JSON.stringify({
      owner: `${os.userInfo().username}@${os.hostname()} pid ${process.pid}`,
      host: os.hostname(),
      pid: process.pid,
      at: new Date().toISOString(),
      expires: new Date(Date.now() + LEASE_MS).toISOString(),
    })
  const put = sh`mkdir -p ${dir} && cat > ${`${dir}/owner.tmp`} && mv -f ${`${dir}/owner.tmp`} ${`${dir}/owner`} || exit 1`
  const epochs: Record<string, string> = {}
  const seen: LockSeen[] = []
  const leased: string[] = []
  await Promise.all(
    nodes
      .map(async (n) => {
        const r = await pool.session(pair, n).run(
          {
            script: [
              put,
              epochSh(pair),
              sh`printf '%s\\036' "$e"; if [ -e ${lock} ]; then printf 'lock\\036'; cat ${`${lock}/owner`} 2>/dev/null; printf '\\036'; cat ${`${lock}/journal`} 2>/dev/null; fi; exit 0`,
            ].join('\n'),
          },
          { input: owner() },
        )
        leased.push(n)
        const [e, mark, lockText, journal] = r.stdout.split('\x1e')
        epochs[n] = e.trim()
        if (mark === 'lock') seen.push({ node: n, lock: lockText ?? '', journal: journal?.trim() || undefined })
      })
      .map((p) =>
        p.catch((e) => {
          if (!(e instanceof RemoteError)) throw e
        }),
      ),
  )

  let stopped: string | undefined
  let timer: NodeJS.Timeout | undefined
  let ended = false
  const stop = (node: string, stdout: string) => {
    const reason = reasonOf(node, stdout, epochs[node])
    stopped ??= reason
    return new SyncStopped(stopped)
  }
  const renew = async () => {
    await Promise.all(
      leased.map(async (n) => {
        const r = await pool
          .session(pair, n)
          .run(
            {
              script: sh`[ -d ${dir} ] || { echo lease; exit ${STOPPED_EXIT}; }; cat > ${`${dir}/owner.tmp`} && mv -f ${`${dir}/owner.tmp`} ${`${dir}/owner`}`,
            },
            { input: owner(), check: false },
          )
          .catch(() => undefined)
        if (r?.code === STOPPED_EXIT) stop(n, r.stdout)
      }),
    )
  }
  const schedule = () => {
    if (ended) return
    timer = setTimeout(() => {
      renew().finally(schedule)
    }, LEASE_MS / 3)
    timer.unref()
  }
  schedule()

  const fence: Fence = {
    id,
    stopped: () => stopped,
    async check(node) {
      if (stopped) throw new SyncStopped(stopped)
      // A node the lease could not reach at the start has no lease to lose: lock and epoch still count.
      const r = await pool
        .session(pair, node)
        .run({ script: checkSh(pair, leased.includes(node) ? dir : undefined, epochs[node] ?? 'none', o) }, { check: false })
      if (r.code === STOPPED_EXIT) throw stop(node, r.stdout)
      if (r.code !== 0)
        throw new RemoteError(`the sync's fence check failed: exit ${r.code}: ${r.stderr.trim()}`, { node, host: r.host, exitCode: r.code, stderr: r.stderr })
    },
    wrap(node, argv) {
      return [
        sh`d=${dir}; echo $$ > "$d/pid.$$" 2>/dev/null || { echo lease; exit ${STOPPED_EXIT}; }`,
        checkSh(pair, dir, epochs[node] ?? 'none', o),
        `${shJoin(argv)}; rc=$?; rm -f "$d/pid.$$"; exit $rc`,
      ].join('\n')
    },
    stoppedBy: stop,
    async inFlight(node, on) {
      const f = `${dir}/sftp`
      // Off also in the stopping copy: that is the sign stopSyncs waits for.
      await pool
        .session(pair, node)
        .run({ script: on ? sh`[ -d ${dir} ] && : > ${f}; exit 0` : sh`rm -f ${f} ${`${dir}.stopping/sftp`}; exit 0` }, { check: false })
        .catch(() => undefined)
    },
    async end() {
      ended = true
      if (timer) clearTimeout(timer)
      // The stopping copy too: that removal is what tells a waiting stopSyncs this sync is done.
      await Promise.all(
        leased.map((n) =>
          pool
            .session(pair, n)
            .run({ script: sh`rm -rf ${dir} ${`${dir}.stopping`}; exit 0` }, { check: false })
            .catch(() => undefined),
        ),
      )
    },
  }
  return { fence, seen, epochs }
}

/** For a controller-run item: a fence check at most every `files` calls or `ms`, whichever comes first. */
export function checkpoint(fence: Fence, nodes: string[], files = 200, ms = 500): () => Promise<void> {
  let calls = 0
  let last = Date.now()
  let pending: Promise<void> | undefined
  return async () => {
    const why = fence.stopped()
    if (why) throw new SyncStopped(why)
    if (++calls < files && Date.now() - last < ms) return
    calls = 0
    last = Date.now()
    // Concurrent uploads share one check in flight rather than each sending its own.
    pending ??= Promise.all(nodes.map((n) => fence.check(n)))
      .then(() => undefined)
      .finally(() => {
        pending = undefined
      })
    await pending
  }
}
