// backup-verify for one pair: for each declared backup on each node, present, fresh, sized
// right, readable end to end with matching checksums, and (with restore) really restorable;
// a PostgreSQL base backup (b.postgresql) is restored and started (./postgres.ts).
import { iecBytes, listSome } from '../format.ts'
import { failureDetail, LONG_TIMEOUT_MS, unreachableResult } from '../outcome.ts'
import { RemoteError } from '../errors.ts'
import type { Backup, Node, Pair } from '../inventory/schema.ts'
import type { CheckResult } from '../report/types.ts'
import { parseListing } from '../listing.ts'
import type { NodeSession, SshPool } from '../ssh.ts'
import { judgeListing, listScript, parseBackupListing, type Archive } from './inspect.ts'
import { archiveKind, checksumFor, parseReadThrough, readThroughScript, restoreScript, splitRestoreMeter } from './integrity.ts'
import { progressEveryMs, type Step, type StepProgress } from '../progress.ts'
import { compareRestore, parseManifest, parseTarVerbose, type Expected } from './manifest.ts'
import { isPg, pgIntegrity, pgRestore } from './postgres.ts'

export const BACKUP_STEPS = ['present', 'age', 'size', 'integrity', 'restore'] as const
/** restoreTimeoutMs: how long the controller waits for one PostgreSQL test restore (default 4 h). */
export interface BackupVerifyOptions {
  restore?: boolean
  listMax?: number
  restoreTimeoutMs?: number
  /** Shown while it runs: one step per backup per node, its phase, and a test restore's bytes as the node measures them. */
  progress?: StepProgress
}
type V = { ok: boolean; detail: string }

async function integrity(s: NodeSession, b: Backup, a: Archive, step?: Step): Promise<V & { listing?: string }> {
  const file = `${b.path}/${a.name}`
  const kind = archiveKind(a.name)
  const parts: string[] = []
  let listing: string | undefined
  if (kind) {
    step?.phase(`${s.name} ${b.name}: reading ${a.name} end to end`)
    const rt = parseReadThrough((await s.run({ script: readThroughScript(file, kind) }, { timeoutMs: LONG_TIMEOUT_MS })).stdout)
    if (!rt.ok)
      return { ok: false, detail: `${a.name} does not read end to end (${rt.error}): the backup is damaged; take a new one and find what truncated it` }
    listing = rt.listing
    parts.push(kind.tar ? `reads end to end (${listing.split('\n').filter(Boolean).length} members)` : `${kind.compressor} stream reads end to end`)
  } else {
    parts.push('format unknown, not read through')
  }
  if (b.checksumFile) {
    const sums = await s.run(['cat', '--', `${b.path}/${b.checksumFile}`], { check: false })
    if (!sums.ok) return { ok: false, detail: `${b.checksumFile} is missing beside ${a.name}: the backup job did not finish writing it` }
    const want = checksumFor(sums.stdout, a.name)
    if (!want) return { ok: false, detail: `${b.checksumFile} has no line for ${a.name}: the backup job did not finish` }
    step?.phase(`${s.name} ${b.name}: sha256 of ${a.name}`)
    const got = (await s.run(['sha256sum', '--', file], { timeoutMs: LONG_TIMEOUT_MS })).stdout.slice(0, 64)
    if (got !== want)
      return { ok: false, detail: `${a.name} sha256 does not match ${b.checksumFile}: the archive changed after it was written; do not rely on it` }
    parts.push(`sha256 matches ${b.checksumFile}`)
  }
  return { ok: true, detail: `${a.name} ${parts.join(', ')}`, listing }
}

async function restore(s: NodeSession, b: Backup, a: Archive, listing: string | undefined, listMax: number, step?: Step): Promise<V> {
  const file = `${b.path}/${a.name}`
  const kind = archiveKind(a.name)
  if (!kind) return { ok: false, detail: `${a.name}: format unknown, cannot test a restore (declare a .tar* or compressed backup)` }
  if (listing === undefined) return { ok: false, detail: `not attempted: ${a.name} does not read end to end` }
  let expected: Expected[]
  let against: string
  if (b.manifestSuffix) {
    const m = await s.run(['cat', '--', file + b.manifestSuffix], { check: false })
    if (!m.ok) return { ok: false, detail: `manifest ${a.name}${b.manifestSuffix} is missing: the backup job did not write it` }
    const parsed = parseManifest(m.stdout)
    expected = parsed.entries
    against = `manifest ${a.name}${b.manifestSuffix} (${parsed.kind})`
  } else {
    expected = parseTarVerbose(listing)
    against = 'the archive listing'
  }
  const listed = parseTarVerbose(listing).reduce((t, e) => t + (e.size ?? 0), 0)
  const need = kind.tar ? listed : a.size * 10
  const hash = expected.some((e) => e.digest)
  step?.phase(`${s.name} ${b.name}: test restore of ${a.name}`)
  // A tar's listing gives the size to expect; a bare compressed file's size is only known once it is out.
  const total = kind.tar ? listed : undefined
  let partial = ''
  const onStderr = (d: Buffer) => {
    const lines = (partial + d.toString('utf8')).split('\n')
    partial = lines.pop()!
    const got = splitRestoreMeter(lines.join('\n')).bytes.at(-1)
    if (got !== undefined) step?.measured({ bytes: got, total })
  }
  const meterSec = step ? Math.min(1, progressEveryMs() / 1000) : undefined
  const r = await s.run({ script: restoreScript(file, kind, need, hash, meterSec) }, { check: false, timeoutMs: LONG_TIMEOUT_MS, onStderr })
  const why = splitRestoreMeter(r.stderr).rest.trim().split('\n').slice(-2).join(' ')
  if (r.code === 92) return { ok: false, detail: `not attempted: ${why}` }
  if (r.code === 91) return { ok: false, detail: `restore of ${a.name} failed: ${why}` }
  if (r.code !== 0) return { ok: false, detail: `restore of ${a.name} failed (exit ${r.code}): ${why}` }
  const restored = parseListing(r.stdout)
  if (!kind.tar)
    return { ok: true, detail: `${a.name} decompressed to ${iecBytes(restored.get('content')?.size ?? 0)} in a scratch directory, removed afterwards` }
  const cmp = compareRestore(expected, restored)
  const files = [...restored.values()].filter((x) => x.type === 'f').length
  if (!cmp.ok) {
    return {
      ok: false,
      detail: `test restore of ${a.name} does not match ${against}: ${listSome(cmp.problems, listMax)}; the backup does not hold what it claims`,
    }
  }
  return { ok: true, detail: `test restore of ${a.name}: ${files} files match ${against}${hash ? ' by sha256' : ''}; scratch removed` }
}

async function verifyBackup(s: NodeSession, b: Backup, opts: BackupVerifyOptions, step?: Step): Promise<Record<string, V & { ms: number }>> {
  const out: Record<string, V & { ms: number }> = {}
  let t = performance.now()
  const lap = (k: string, v: V) => {
    const now = performance.now()
    out[k] = { ...v, ms: now - t }
    t = now
  }
  const j = judgeListing(b, parseBackupListing((await s.run({ script: listScript(b) })).stdout, b))
  lap('present', j.present)
  out.age = { ...j.age, ms: 0 }
  out.size = { ...j.size, ms: 0 }
  const none = { ok: false, detail: 'no backup to check' }
  if (!j.newest) {
    out.integrity = { ...none, ms: 0 }
    if (opts.restore) out.restore = { ...none, ms: 0 }
    return out
  }
  if (isPg(b)) {
    step?.phase(`${s.name} ${b.name}: reading ${j.newest.name} end to end`)
    const integ = await pgIntegrity(s, b, j.newest)
    lap('integrity', integ)
    if (opts.restore) {
      // The PostgreSQL restore runs as one script on the node (extract, verify, start, query): its phase and time are what is known.
      step?.phase(`${s.name} ${b.name}: test restore of ${j.newest.name} (extract, pg_verifybackup, start, query)`)
      lap('restore', await pgRestore(s, b, j.newest, integ, opts.restoreTimeoutMs))
    }
    return out
  }
  const integ = await integrity(s, b, j.newest, step)
  lap('integrity', integ)
  if (opts.restore) lap('restore', await restore(s, b, j.newest, integ.ok ? integ.listing : undefined, opts.listMax ?? 5, step))
  return out
}

async function reachable(pool: SshPool, pair: Pair, n: Node): Promise<RemoteError | undefined> {
  try {
    await pool.session(pair, n).ping()
    return undefined
  } catch (e) {
    if (e instanceof RemoteError) return e
    throw e
  }
}

export async function backupVerifyPair(pair: Pair, pool: SshPool, backups: Backup[], opts: BackupVerifyOptions = {}): Promise<CheckResult[]> {
  const steps = BACKUP_STEPS.filter((k) => k !== 'restore' || opts.restore)
  const perNode = await Promise.all(
    pair.nodes.map(async (n): Promise<CheckResult[]> => {
      const down = await reachable(pool, pair, n)
      const res: CheckResult[] = []
      for (const b of backups) {
        if (down) {
          opts.progress?.step(`${n.name} ${b.name}`).done()
          res.push(...steps.map((k) => unreachableResult(pair, n.name, `${b.name}:${k}`, down)))
          continue
        }
        const step = opts.progress?.step(`${n.name} ${b.name}`)
        step?.phase(`${n.name} ${b.name}: listing`)
        try {
          const got = await verifyBackup(pool.session(pair, n), b, opts, step)
          res.push(...steps.map((k) => ({ pair: pair.name, node: n.name, check: `${b.name}:${k}`, ok: got[k].ok, detail: got[k].detail, ms: got[k].ms })))
        } catch (e) {
          const detail = failureDetail(e)
          res.push(...steps.map((k) => ({ pair: pair.name, node: n.name, check: `${b.name}:${k}`, ok: false, detail, ms: 0 })))
        } finally {
          step?.done()
        }
      }
      return res
    }),
  )
  return perNode.flat()
}
