// The sftp transport, for targets without rsync: the controller reads the source and writes the
// target over the same pinned SSH connections (ssh2's SFTP channel). Every file goes to a
// temporary name and is renamed over the old one (posix-rename@openssh.com), so a reader sees
// the old file or the new one, never half of one.
import { randomBytes } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import type { SFTPWrapper, Stats } from 'ssh2'
import type { SyncItem } from '../inventory/schema.ts'
import { HapairError } from '../errors.ts'
import type { NodeSession } from '../ssh.ts'
import { judgeRemovals, type DeleteLimit, type Refusal } from './delete-guard.ts'
import { skipMatcher, TEMP_PREFIX } from './filters.ts'
import { PARTIAL_DIR } from './rsync.ts'
import { diffTrees, itemize, type TreeEntry, type EntryType } from './tree.ts'

export { TEMP_PREFIX }

/** Awaits one of ssh2's SFTP methods, which answer through a callback. */
export const sftpCall = <T = void>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))

function typeOf(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'dir'
    case 0o120000:
      return 'link'
    default:
      return 'other'
  }
}

const entryOf = (rel: string, a: Stats): TreeEntry => ({
  rel,
  type: typeOf(a.mode),
  mode: a.mode & 0o7777,
  uid: a.uid,
  gid: a.gid,
  size: a.size,
  mtime: a.mtime,
})

/** Runs fn over items, at most n at once. */
async function eachLimit<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) await fn(items[i++])
    }),
  )
}

/** The tree under root, without what keep() rejects; our own leftover temporaries are listed apart. */
async function walk(sftp: SFTPWrapper, root: string, keep: (rel: string, isDir: boolean) => boolean) {
  const tree = new Map<string, TreeEntry>()
  const stale: string[] = []
  let level = ['']
  while (level.length) {
    const next: string[] = []
    await eachLimit(level, 8, async (dir) => {
      const list = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => sftp.readdir(dir ? `${root}/${dir}` : root, cb as any))
      for (const { filename, attrs } of list) {
        if (filename === '.' || filename === '..') continue
        const rel = dir ? `${dir}/${filename}` : filename
        if (filename.startsWith(TEMP_PREFIX)) {
          stale.push(rel)
          continue
        }
        const e = entryOf(rel, attrs)
        if (filename === PARTIAL_DIR || !keep(rel, e.type === 'dir')) continue
        tree.set(rel, e)
        if (e.type === 'dir') next.push(rel)
      }
    })
    level = next
  }
  await eachLimit(
    [...tree.values()].filter((e) => e.type === 'link'),
    8,
    async (e) => {
      e.link = await sftpCall<string>((cb) => sftp.readlink(`${root}/${e.rel}`, cb as any))
    },
  )
  return { tree, stale }
}

async function exists(sftp: SFTPWrapper, p: string): Promise<Stats | undefined> {
  try {
    return await sftpCall<Stats>((cb) => sftp.lstat(p, cb as any))
  } catch {
    return undefined
  }
}

async function mkdirp(sftp: SFTPWrapper, p: string): Promise<void> {
  const parts = p.split('/').filter(Boolean)
  for (let i = 1; i <= parts.length; i++) {
    const sub = '/' + parts.slice(0, i).join('/')
    if (!(await exists(sftp, sub))) await sftpCall((cb) => sftp.mkdir(sub, cb as any))
  }
}

/** Mode, owner and times; an owner the SFTP user may not set is left as it is. */
async function stamp(sftp: SFTPWrapper, p: string, e: TreeEntry): Promise<void> {
  const times = { atime: e.mtime, mtime: e.mtime }
  try {
    await sftpCall((cb) => sftp.setstat(p, { mode: e.mode, uid: e.uid, gid: e.gid, ...times }, cb as any))
  } catch {
    await sftpCall((cb) => sftp.setstat(p, { mode: e.mode, ...times }, cb as any))
  }
}

const rename = (sftp: SFTPWrapper, from: string, to: string) => sftpCall((cb) => sftp.ext_openssh_rename(from, to, cb as any))
const tempName = (root: string, rel: string) => {
  const dir = rel.includes('/') ? `${root}/${rel.slice(0, rel.lastIndexOf('/'))}` : root
  return `${dir}/${TEMP_PREFIX}${randomBytes(6).toString('hex')}`
}

export interface SftpOutcome {
  files: number
  sent: number
  deleted: number
  unchanged: number
  bytes: number
  changes?: string[]
  errors: string[]
  warning?: string
  /** Mirror deletions over the limit: everything else was sent, nothing deleted. */
  refused?: Refusal
}

const LINK_ERROR = /no response|not connected|connection (lost|reset|closed)|channel (closed|open failure)|ECONNRESET|ETIMEDOUT|EPIPE|timed out/i
export const isLinkError = (e: unknown) => LINK_ERROR.test(String((e as Error)?.message ?? e)) || (e as { unreachable?: boolean })?.unreachable === true

export async function sftpItem(o: {
  src: NodeSession
  dst: NodeSession
  item: SyncItem
  protect: string[]
  dryRun: boolean
  bootstrap: boolean
  /** Mirror deletions: the limit, and whether --force lifts it (absent: no limit). */
  deletes?: { limit: DeleteLimit; force: boolean }
  /** Called before each change (and before each rename); throws to stop the item (the sync's fence). */
  checkpoint?: () => Promise<void>
  /** Fed the bytes read and the files sent as the uploads go (lib/sync/progress.ts). */
  progress?: { update(p: { bytes: number; pct: number; files: number }): void; done(): void }
}): Promise<SftpOutcome> {
  const root = o.item.path.replace(/\/+$/, '')
  const skips = skipMatcher(o.item.exclude ?? [], o.protect)
  const keep = (rel: string, isDir: boolean) => !skips(rel, isDir)
  const [ss, ds] = await Promise.all([o.src.sftp(), o.dst.sftp()])
  try {
    if (!(await exists(ss, root))) throw new Error(`${root} does not exist on the source`)
    const src = await walk(ss, root, keep)
    let dst = { tree: new Map<string, TreeEntry>(), stale: [] as string[] }
    const there = await exists(ds, root)
    if (there) dst = await walk(ds, root, keep)
    else if (!o.dryRun) {
      const parent = root.slice(0, root.lastIndexOf('/')) || '/'
      if (!o.bootstrap && !(await exists(ds, parent))) throw new Error(`${parent} does not exist on the target (a new node? use --bootstrap)`)
      await mkdirp(ds, root)
    }
    const d = diffTrees(src.tree, dst.tree, { mirror: o.item.mirror === true })
    const refused = o.deletes && !o.deletes.force ? judgeRemovals(d.remove, dst.tree, o.deletes.limit) : undefined
    if (refused && !o.dryRun) d.remove = [] // the rest goes as usual; the deletions wait for --force
    const out: SftpOutcome = {
      files: d.files,
      sent: d.upload.length,
      deleted: d.remove.length + d.clear.length,
      unchanged: d.unchanged,
      bytes: d.bytes,
      errors: [],
    }
    if (d.special.length) out.warning = `${d.special.length} special file(s) not carried by sftp: ${d.special.slice(0, 3).join(', ')}`
    if (o.dryRun)
      return {
        ...out,
        changes: itemize(d, dst.tree),
        ...(refused ? { warning: `a real sync would refuse: ${refused.count} files to delete, over the ${refused.limit}` } : {}),
      }
    if (refused) out.refused = refused

    const abs = (rel: string) => `${root}/${rel}`
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      await o.checkpoint?.()
      try {
        await fn()
      } catch (e) {
        if (isLinkError(e) || e instanceof HapairError) throw e
        out.errors.push(`${what}: ${(e as Error).message}`)
      }
    }
    for (const e of d.clear)
      await attempt(`delete ${e.rel}`, () => sftpCall((cb) => (e.type === 'dir' ? ds.rmdir(abs(e.rel), cb as any) : ds.unlink(abs(e.rel), cb as any))))
    for (const e of d.mkdir) await attempt(`mkdir ${e.rel}`, () => sftpCall((cb) => ds.mkdir(abs(e.rel), { mode: 0o700 }, cb as any)))
    let moved = 0,
      sent = 0
    const report = () => o.progress?.update({ bytes: moved, pct: d.bytes ? Math.min(100, Math.floor((moved * 100) / d.bytes)) : 100, files: sent })
    await eachLimit(d.upload, 8, (e) =>
      attempt(`send ${e.rel}`, async () => {
        const tmp = tempName(root, e.rel)
        try {
          const from = ss.createReadStream(abs(e.rel))
          if (o.progress)
            from.on('data', (c: Buffer) => {
              moved += c.length
              report()
            })
          await pipeline(from, ds.createWriteStream(tmp, { mode: 0o600 }))
          await stamp(ds, tmp, e)
          await o.checkpoint?.()
          await rename(ds, tmp, abs(e.rel))
          sent++
          report()
        } catch (err) {
          await sftpCall((cb) => ds.unlink(tmp, cb as any)).catch(() => {})
          throw err
        }
      }),
    )
    for (const e of d.link)
      await attempt(`link ${e.rel}`, async () => {
        const tmp = tempName(root, e.rel)
        await sftpCall((cb) => ds.symlink(e.link!, tmp, cb as any))
        await rename(ds, tmp, abs(e.rel))
      })
    for (const e of d.attrs) await attempt(`set attributes of ${e.rel}`, () => stamp(ds, abs(e.rel), e))
    for (const e of d.remove)
      await attempt(`delete ${e.rel}`, () => sftpCall((cb) => (e.type === 'dir' ? ds.rmdir(abs(e.rel), cb as any) : ds.unlink(abs(e.rel), cb as any))))
    for (const rel of dst.stale) await sftpCall((cb) => ds.unlink(abs(rel), cb as any)).catch(() => {})
    for (const e of d.dirs) await attempt(`set attributes of ${e.rel}/`, () => stamp(ds, abs(e.rel), e))
    for (const b of d.blocked) out.errors.push(`${b.rel}: ${b.reason}`)
    return out
  } finally {
    o.progress?.done()
    ss.end()
    ds.end()
  }
}
