// A per-pair operation lock held on the nodes themselves, so an operator on another machine is
// stopped too. The lock directory appears complete (owner file inside) by one rename, so nobody
// ever sees a lock without its owner. Its owner file says who, since when, until when; the
// holder renews it while it runs. A stale owner is replaced only by whoever first creates
// taken.<hash of that owner>: mkdir is atomic, so a stale lock has exactly one taker.
// Nodes are locked in name order so two contenders cannot each hold half forever.
import { createHash, randomBytes } from 'node:crypto'
import os from 'node:os'
import { stateDir } from './inventory/load.ts'
import type { Pair } from './inventory/schema.ts'
import { RefusedError, RemoteError } from './errors.ts'
import { playbookCommand } from './hint.ts'
import { sh } from './shell.ts'
import type { NodeSession, SshPool } from './ssh.ts'

export { stopSyncs } from './sync/stop.ts'

export interface LockOwner {
  owner: string
  host: string
  pid: number
  operation: string
  at: string
  expires: string
  /** Random per acquisition: tells this holder's lock from a later one by the same process. */
  id?: string
}

export const OPERATIONS = ['failover', 'failback'] as const

/** Journal of an operation in progress, kept beside the lock so a re-run can finish the job. */
export interface Journal {
  operation: (typeof OPERATIONS)[number]
  from: string
  to: string
  epoch: number
  steps: string[]
}

export interface HeldLock {
  owner: LockOwner
  nodes: string[]
  /** Nodes that could not be asked (and so are not locked), with why. */
  unreachable: Record<string, string>
  /** A journal left by an interrupted run of the same operation, if any (only a valid one). */
  resumed?: Journal
  /** A journal was found but fails its schema: which node and why. It is never resumed. */
  badJournal?: string
  /** Holders whose live lock --break-lock took over, one line each (also printed as a warning). */
  broken: string[]
  /** Why the lock was lost while held (a renewal found another owner), if it was. */
  lost(): string | undefined
  journal(j: Journal): Promise<void>
  /** Removes the lock and its journal: the operation finished, or changed nothing. */
  release(): Promise<void>
  /** Stops renewing and leaves lock and journal for the next run (a mutating step had started). */
  keep(): Promise<void>
}

/** Short, because the holder renews it: a killed run blocks the pair for at most this long. */
export const LOCK_MS = 60_000

export const lockDir = (pair: Pair) => `${stateDir(pair)}/lock`
/** Present exactly while someone holds the lock (it arrives with the directory, by one rename). */
export const lockOwnerFile = (pair: Pair) => `${lockDir(pair)}/owner`
const hash = (text: string) => createHash('sha256').update(text).digest('hex')

/** The owner file, checked: undefined when it is not one (a lock whose owner cannot be read is stale). */
export function parseOwner(text: string | undefined): LockOwner | undefined {
  let o: any
  try {
    o = JSON.parse(text ?? '')
  } catch {
    return undefined
  }
  if (!o || typeof o !== 'object') return undefined
  const str = (k: string) => typeof o[k] === 'string'
  if (!str('owner') || !str('host') || !str('operation') || !str('at') || !str('expires') || !Number.isSafeInteger(o.pid)) return undefined
  if (Number.isNaN(Date.parse(o.expires))) return undefined
  return o as LockOwner
}

/** A journal, checked against its schema and the pair: a bad one is reported, never resumed. */
export function parseJournal(text: string, pair: Pair): { journal?: Journal; problem?: string } {
  let j: any
  try {
    j = JSON.parse(text)
  } catch {
    return { problem: 'not valid JSON' }
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) return { problem: 'not a JSON object' }
  const names = pair.nodes.map((n) => n.name)
  if (!OPERATIONS.includes(j.operation)) return { problem: `operation ${JSON.stringify(j.operation)} is not one of ${OPERATIONS.join(', ')}` }
  for (const k of ['from', 'to']) {
    if (typeof j[k] !== 'string' || !names.includes(j[k]))
      return { problem: `${k} ${JSON.stringify(j[k])} is not a node of pair ${pair.name} (${names.join(', ')})` }
  }
  // from === to is a converging run (the records already name the target; an address or a
  // singleton is elsewhere): valid, and resumable like any other.
  if (typeof j.epoch !== 'number' || !Number.isSafeInteger(j.epoch) || j.epoch < 1)
    return { problem: `epoch ${JSON.stringify(j.epoch)} is not a positive integer` }
  if (!Array.isArray(j.steps) || !j.steps.every((s: unknown) => typeof s === 'string')) return { problem: 'steps is not a list of step names' }
  return { journal: { operation: j.operation, from: j.from, to: j.to, epoch: j.epoch, steps: [...j.steps] } }
}

/** Whether a lock can be taken over without --break-lock: expired, or left by a dead process on this same host. */
export function isStale(o: LockOwner, now = Date.now(), alive = pidAlive): boolean {
  if (!(Date.parse(o.expires) >= now)) return true
  return o.host === os.hostname() && !alive(o.pid)
}

/** Ids of the locks this process is renewing now: a lock of ours not among them is left over (keep()). */
const renewing = new Set<string>()

/**
 * Why --break-lock must not take this lock: its holder runs on this host and is provably alive.
 * A holder on another host cannot be checked from here, and one of this very process that has
 * stopped renewing (keep()) is over: both can be broken.
 */
export function unbreakable(o: LockOwner, alive = pidAlive): string | undefined {
  if (o.host !== os.hostname() || !alive(o.pid)) return undefined
  if (o.pid === process.pid && !(o.id && renewing.has(o.id))) return undefined
  return `its holder, pid ${o.pid} on this host (${o.host}), is alive: --break-lock only takes a lock from a run that is dead or elsewhere; stop pid ${o.pid} first (or wait for it), then re-run`
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function describeOwner(o: LockOwner): string {
  return `${o.owner} (${o.operation}, since ${o.at}, expires ${o.expires})`
}

/** The command that finishes an interrupted operation. */
export const finishCommand = (pair: Pair, op: string) => playbookCommand(op === 'failback' ? 'failback' : 'failover', ['--pair', pair.name, '--yes'])

interface Seen {
  hash: string
  owner: string
  journal: string
}

/** Creates the lock complete by one rename; or prints who holds it (hash of the owner file, owner, journal). */
function takeScript(pair: Pair): string {
  const dir = lockDir(pair)
  const tmp = `${stateDir(pair)}/.lock-new`
  return sh`mkdir -p ${stateDir(pair)} && t=${tmp}.$$ && rm -rf "$t" && mkdir "$t" && cat > "$t/owner" || exit 1
if mv -T "$t" ${dir} 2>/dev/null; then echo acquired; exit 0; fi
rm -rf "$t"; printf 'held\\036'; cat ${dir}/owner 2>/dev/null | sha256sum | cut -c1-64; printf '\\036'; cat ${dir}/owner 2>/dev/null; printf '\\036'; cat ${dir}/journal 2>/dev/null; exit 0`
}

/**
 * Replaces an owner file that still holds exactly the content hashed `was`. Two callers with the
 * same `was` race on mkdir taken.<was>; the loser writes nothing. Renewal is the same step.
 */
async function replaceOwner(s: NodeSession, pair: Pair, was: string, body: string): Promise<'acquired' | 'changed' | 'lost'> {
  const dir = lockDir(pair)
  const r = await s.run(
    {
      script: sh`h=$(cat ${dir}/owner 2>/dev/null | sha256sum | cut -c1-64); [ "$h" = ${was} ] || { echo changed; exit 0; }
mkdir ${`${dir}/taken.${was}`} 2>/dev/null || { echo lost; exit 0; }
cat > ${dir}/owner.tmp.$$ && mv -f ${dir}/owner.tmp.$$ ${dir}/owner && echo acquired`,
    },
    { input: body },
  )
  const word = r.stdout.trim()
  return word === 'acquired' || word === 'changed' ? word : 'lost'
}

function newOwner(operation: string, id: string, now: number, ms: number): LockOwner {
  const user = process.env.SUDO_USER || os.userInfo().username
  return {
    owner: `${user}@${os.hostname()} pid ${process.pid}`,
    host: os.hostname(),
    pid: process.pid,
    operation,
    at: new Date(now).toISOString(),
    expires: new Date(now + ms).toISOString(),
    id,
  }
}

/** One node: take it fresh, or take over a stale (or broken) owner; a lost race re-reads once. */
async function lockNode(s: NodeSession, pair: Pair, body: string, breakLock: boolean): Promise<{ journal?: string; broke?: string }> {
  for (let attempt = 0; ; attempt++) {
    const r = await s.run({ script: takeScript(pair) }, { input: body })
    if (r.stdout.startsWith('acquired')) return {}
    const [, h, ownerText, journal] = r.stdout.split('\x1e')
    const seen: Seen = { hash: (h ?? '').trim(), owner: ownerText ?? '', journal: journal ?? '' }
    const other = parseOwner(seen.owner)
    const live = other && !isStale(other) ? other : undefined
    if (live && !breakLock) {
      throw new RefusedError(
        `pair ${pair.name} is locked on ${s.name} by ${describeOwner(live)}; wait for it, or if that run is dead, re-run with --break-lock`,
      )
    }
    const why = live && unbreakable(live)
    if (why) throw new RefusedError(`pair ${pair.name} is locked on ${s.name} by ${describeOwner(live)}, and --break-lock refuses: ${why}`)
    const got = await replaceOwner(s, pair, seen.hash, body)
    if (got === 'acquired')
      return {
        journal: seen.journal.trim() || undefined,
        broke: live && `--break-lock took the lock on ${s.name} from ${describeOwner(live)}, still live; if that run goes on, two operations run at once`,
      }
    if (attempt >= 1) throw new RefusedError(`pair ${pair.name}: another run took the stale lock on ${s.name} first; wait for it to finish`)
  }
}

export async function acquireLock(
  pool: SshPool,
  pair: Pair,
  operation: string,
  opts: { breakLock?: boolean; expiryMs?: number; warn?: (line: string) => void } = {},
): Promise<HeldLock> {
  const warn = opts.warn ?? ((line: string) => process.stderr.write(`warning: ${line}\n`))
  const ms = opts.expiryMs ?? LOCK_MS
  const id = randomBytes(8).toString('hex')
  let owner = newOwner(operation, id, Date.now(), ms)
  const dir = lockDir(pair)
  const names = pair.nodes.map((n) => n.name).sort()
  const held: string[] = []
  const written: Record<string, string> = {}
  const unreachable: Record<string, string> = {}
  const journals: { node: string; text: string }[] = []
  const broken: string[] = []
  let timer: NodeJS.Timeout | undefined
  // A renewal under way when the lock is released would write the owner back after the rm.
  let renewal: Promise<void> | undefined
  let stopped = false
  let lost: string | undefined
  const stop = () => {
    stopped = true
    renewing.delete(id)
    if (timer) clearTimeout(timer)
  }
  const release = async () => {
    stop()
    await renewal
    await Promise.all(
      held.map((n) =>
        pool
          .session(pair, n)
          .run({ script: sh`grep -qF ${`"id":"${id}"`} ${dir}/owner 2>/dev/null && rm -rf ${dir}; exit 0` }, { check: false })
          .catch(() => undefined),
      ),
    )
  }
  const body = JSON.stringify(owner)
  // Connect to every node at once first; the locking itself must go in name order.
  await Promise.allSettled(names.map((n) => pool.session(pair, n).ping()))
  try {
    for (const name of names) {
      try {
        const r = await lockNode(pool.session(pair, name), pair, body, !!opts.breakLock)
        if (r.journal) journals.push({ node: name, text: r.journal })
        if (r.broke) {
          broken.push(r.broke)
          warn(r.broke)
        }
      } catch (e) {
        // The node we may be about to fence is often the one we cannot reach: lock the rest.
        if (e instanceof RemoteError && (e.unreachable || e.timedOut)) {
          unreachable[name] = e.message
          continue
        }
        throw e
      }
      held.push(name)
      written[name] = body
    }
    if (held.length === 0) throw new RefusedError(`no node of pair ${pair.name} is reachable: ${Object.values(unreachable).join('; ')}`)
  } catch (e) {
    await release()
    throw e
  }
  const { resumed, badJournal } = pickJournal(journals, pair)

  const renew = async () => {
    owner = { ...owner, expires: new Date(Date.now() + ms).toISOString() }
    const next = JSON.stringify(owner)
    await Promise.all(
      held
        .filter((n) => written[n] !== undefined)
        .map(async (n) => {
          try {
            const got = await replaceOwner(pool.session(pair, n), pair, hash(written[n]), next)
            if (got === 'acquired') written[n] = next
            else {
              lost ??= `the lock on ${n} has another owner now`
              delete written[n]
            }
          } catch (e) {
            if (!(e instanceof RemoteError)) throw e /* unreachable now: try again next time */
          }
        }),
    )
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(
      () => {
        renewal = renew()
          .catch(() => undefined)
          .finally(() => {
            renewal = undefined
            schedule()
          })
      },
      Math.max(100, Math.floor(ms / 3)),
    )
    timer.unref()
  }
  renewing.add(id)
  schedule()

  return {
    owner,
    nodes: held,
    unreachable,
    resumed,
    badJournal,
    broken,
    lost: () => lost,
    async journal(j: Journal) {
      const line = JSON.stringify(j)
      await Promise.all(
        held.map((n) =>
          pool
            .session(pair, n)
            .run({ script: sh`cat > ${dir}/journal.tmp && mv -f ${dir}/journal.tmp ${dir}/journal` }, { input: line })
            .catch((e) => {
              if (!(e instanceof RemoteError)) throw e
            }),
        ),
      )
    },
    release,
    async keep() {
      stop()
      await renewal
    },
  }
}

/** Journals with the most progress first: the highest epoch, then the most steps done. */
export const byProgress = (a: Journal, b: Journal) => b.epoch - a.epoch || b.steps.length - a.steps.length

/** The valid journal with the most progress; any invalid one is named, and never resumed. */
function pickJournal(found: { node: string; text: string }[], pair: Pair): { resumed?: Journal; badJournal?: string } {
  const good: Journal[] = []
  const bad: string[] = []
  for (const f of found) {
    const p = parseJournal(f.text, pair)
    if (p.journal) good.push(p.journal)
    else bad.push(`the journal on ${f.node} is unusable (${p.problem}); it was not resumed`)
  }
  good.sort(byProgress)
  return { resumed: good[0], badJournal: bad.length ? bad.join('; ') : undefined }
}

/** One line for status: who holds the lock on this node, or which operation it left unfinished. Pure. */
export function describeLock(pair: Pair, node: string, ownerText: string, journalText: string, now = Date.now()): string {
  const o = parseOwner(ownerText)
  const who = o ? describeOwner(o) : 'an owner that cannot be read'
  if (o && !isStale(o, now)) return `locked on ${node} by ${who}: a ${o.operation} is under way`
  if (!journalText.trim())
    return `stale lock on ${node} left by ${who}: its run died before journalling a change; re-run \`${finishCommand(pair, o?.operation ?? 'failover')}\``
  const j = parseJournal(journalText, pair)
  if (!j.journal) return `stale lock on ${node} left by ${who} with an unusable journal (${j.problem})`
  return `unfinished ${j.journal.operation} ${j.journal.from} -> ${j.journal.to} (epoch ${j.journal.epoch}) on ${node}, left by ${who}: finish it with \`${finishCommand(pair, j.journal.operation)}\``
}

/** The remote half of readLockDir (always exits 0); shared with the watcher's combined read (lib/watch/refresh.ts). */
export function lockDirScript(pair: Pair): string {
  const dir = lockDir(pair)
  return sh`[ -d ${dir} ] || exit 0; printf 'lock\\036'; cat ${dir}/owner 2>/dev/null; printf '\\036'; cat ${dir}/journal 2>/dev/null; exit 0`
}

/** What lockDirScript printed: the raw owner and journal texts, or undefined when there is no lock. Pure. */
export function parseLockDir(stdout: string): { owner: string; journal: string } | undefined {
  if (!stdout.startsWith('lock')) return undefined
  const [, owner, journal] = stdout.split('\x1e')
  return { owner: owner ?? '', journal: journal ?? '' }
}

/** The raw owner and journal texts of the lock on one node (one round trip), or undefined when there is none. */
export async function readLockDir(s: NodeSession, pair: Pair, opts: { timeoutMs?: number } = {}): Promise<{ owner: string; journal: string } | undefined> {
  const r = await s.run({ script: lockDirScript(pair) }, { timeoutMs: opts.timeoutMs })
  return parseLockDir(r.stdout)
}

/** The lock on one node as describeLock puts it, or undefined when there is none. */
export async function lockState(s: NodeSession, pair: Pair, now = Date.now()): Promise<string | undefined> {
  const l = await readLockDir(s, pair)
  return l && describeLock(pair, s.name, l.owner, l.journal, now)
}
