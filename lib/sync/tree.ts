// The sftp transport's plan: given the source and target trees (already without protected and
// excluded paths), what to create, replace, delete and re-stamp. Pure; sftp.ts does it.

export type EntryType = 'file' | 'dir' | 'link' | 'other'

export interface TreeEntry {
  /** Path relative to the item root, '/'-separated, never empty. */
  rel: string
  type: EntryType
  /** Permission bits only (07777). */
  mode: number
  uid: number
  gid: number
  size: number
  /** Seconds: SFTP v3 carries no finer times. */
  mtime: number
  /** Symlink target. */
  link?: string
}

export interface TreeDiff {
  /** Target entries of the wrong type, in the way of what the source has: deleted first, deepest first. */
  clear: TreeEntry[]
  /** Target entries gone from the source (mirror items): deleted last, deepest first. */
  remove: TreeEntry[]
  /** Directories to create, shallowest first. */
  mkdir: TreeEntry[]
  /** Files whose content differs (size or time), sent to a temporary name and renamed. */
  upload: TreeEntry[]
  /** Symlinks to create or point elsewhere. */
  link: TreeEntry[]
  /** Files whose content is right but whose mode or owner is not. */
  attrs: TreeEntry[]
  /** Directories to re-stamp at the end (mode, owner, time), deepest first. */
  dirs: TreeEntry[]
  /** What could not be done without deleting a directory in a non-mirror item. */
  blocked: { rel: string; reason: string }[]
  /** Source entries the transport cannot carry (devices, sockets, fifos). */
  special: string[]
  files: number
  unchanged: number
  bytes: number
}

const depth = (rel: string) => rel.split('/').length
const parent = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '')
const under = (rel: string, dir: string) => rel.startsWith(dir + '/')

export function diffTrees(src: Map<string, TreeEntry>, dst: Map<string, TreeEntry>, opts: { mirror: boolean }): TreeDiff {
  const d: TreeDiff = {
    clear: [],
    remove: [],
    mkdir: [],
    upload: [],
    link: [],
    attrs: [],
    dirs: [],
    blocked: [],
    special: [],
    files: 0,
    unchanged: 0,
    bytes: 0,
  }
  const removed = new Set<string>()
  const blockedDirs: string[] = []
  const touched = new Set<string>()
  const touch = (rel: string) => touched.add(parent(rel))
  const isBlocked = (rel: string) => blockedDirs.some((b) => rel === b || under(rel, b))

  const sorted = [...src.values()].sort((a, b) => depth(a.rel) - depth(b.rel) || (a.rel < b.rel ? -1 : 1))
  for (const s of sorted) {
    if (s.type === 'file') d.files++
    if (isBlocked(s.rel)) continue
    if (s.type === 'other') {
      d.special.push(s.rel)
      continue
    }
    let t = dst.get(s.rel)
    if (t && [...removed].some((r) => under(s.rel, r))) t = undefined
    if (t && t.type !== s.type) {
      if (t.type === 'dir' && !opts.mirror) {
        d.blocked.push({ rel: s.rel, reason: `a directory is in the way of a ${s.type} (the item is not mirror, so it is not deleted)` })
        blockedDirs.push(s.rel)
        continue
      }
      d.clear.push(t, ...(t.type === 'dir' ? [...dst.values()].filter((x) => under(x.rel, t!.rel)) : []))
      removed.add(t.rel)
      touch(s.rel)
      t = undefined
    }
    if (s.type === 'dir') {
      if (!t) {
        d.mkdir.push(s)
        touch(s.rel)
      }
      if (!t || t.mode !== s.mode || t.uid !== s.uid || t.gid !== s.gid || t.mtime !== s.mtime) touched.add(s.rel)
    } else if (s.type === 'link') {
      if (!t || t.link !== s.link) {
        d.link.push(s)
        touch(s.rel)
      }
    } else {
      if (!t || t.size !== s.size || t.mtime !== s.mtime) {
        d.upload.push(s)
        d.bytes += s.size
        touch(s.rel)
      } else {
        d.unchanged++
        if (t.mode !== s.mode || t.uid !== s.uid || t.gid !== s.gid) d.attrs.push(s)
      }
    }
  }
  if (opts.mirror) {
    for (const t of dst.values()) {
      if (src.has(t.rel) || removed.has(t.rel) || [...removed].some((r) => under(t.rel, r))) continue
      d.remove.push(t)
      touch(t.rel)
    }
  }
  const deepestFirst = (a: TreeEntry, b: TreeEntry) => depth(b.rel) - depth(a.rel) || (a.rel < b.rel ? 1 : -1)
  d.clear.sort(deepestFirst)
  d.remove.sort(deepestFirst)
  touched.delete('')
  d.dirs = [...touched]
    .map((rel) => src.get(rel))
    .filter((e): e is TreeEntry => e?.type === 'dir' && !isBlocked(e.rel))
    .sort((a, b) => depth(b.rel) - depth(a.rel))
  return d
}

/** The diff in rsync's itemised format, for --dry-run. */
export function itemize(d: TreeDiff, dst: Map<string, TreeEntry>): string[] {
  const out: string[] = []
  for (const e of [...d.clear, ...d.remove]) out.push(`*deleting   ${e.rel}${e.type === 'dir' ? '/' : ''}`)
  for (const e of d.mkdir) out.push(`cd+++++++++ ${e.rel}/`)
  for (const e of d.upload) {
    const t = dst.get(e.rel)
    out.push(t && t.type === 'file' ? `>f.${t.size !== e.size ? 's' : '.'}${t.mtime !== e.mtime ? 't' : '.'}...... ${e.rel}` : `>f+++++++++ ${e.rel}`)
  }
  for (const e of d.link) out.push(`${dst.has(e.rel) ? 'cL.........' : 'cL+++++++++'} ${e.rel} -> ${e.link}`)
  for (const e of d.attrs) out.push(`.f...po.... ${e.rel}`)
  for (const b of d.blocked) out.push(`! ${b.rel}: ${b.reason}`)
  return out
}
