// Sync drift, the pure half: drop from the listings the nodes send (lib/listing.ts) what sync
// never touches (protected paths, rsync-style excludes: lib/sync/filters.ts decides, for sync and
// for this), and compare a node's tree with the active node's.
import { listSome } from '../format.ts'
import type { Tree } from '../listing.ts'

export interface Difference {
  path: string
  why: string
}
export interface Drift {
  missing: string[]
  extra: string[]
  differ: Difference[]
}

/** Which listed paths to drop: sync's own rule (lib/sync/filters.ts skipMatcher / itemScope). */
export interface Excluder {
  (path: string, isDir: boolean): boolean
}

export function filterTree(t: Tree, excluded: Excluder): Tree {
  const out: Tree = new Map()
  for (const [p, e] of t) if (!excluded(p, e.type === 'd')) out.set(p, e)
  return out
}

const TYPES: Record<string, string> = { f: 'file', d: 'directory', l: 'symlink' }
const typeName = (t: string) => TYPES[t] ?? `type ${t}`

/**
 * Fast mode: type, size, and mtime in whole seconds (the SFTP protocol carries only seconds,
 * so an sftp-synced copy never matches below that). Deep mode: type and content digest; an
 * mtime-only difference is not drift when the bytes are the same. Directories: existence and
 * type only (their mtimes move whenever an entry is added). Extra entries count only for
 * mirrored items: sync never deletes from the others.
 */
export function compareTrees(ref: Tree, other: Tree, opts: { deep: boolean; mirror: boolean }): Drift {
  const missing: string[] = []
  const differ: Difference[] = []
  const extra: string[] = []
  for (const [path, a] of ref) {
    const b = other.get(path)
    if (!b) {
      missing.push(path)
      continue
    }
    if (a.type !== b.type) {
      differ.push({ path, why: `${typeName(b.type)} here, ${typeName(a.type)} on the active node` })
      continue
    }
    if (a.type === 'l' && a.target !== b.target) differ.push({ path, why: 'link target' })
    if (a.type !== 'f') continue
    if (opts.deep) {
      if (!a.digest || !b.digest) differ.push({ path, why: 'unreadable' })
      else if (a.digest !== b.digest) differ.push({ path, why: a.size === b.size ? 'content' : `content, size ${b.size} vs ${a.size}` })
    } else if (a.size !== b.size) differ.push({ path, why: `size ${b.size} vs ${a.size}` })
    else if (Math.floor(a.mtime) !== Math.floor(b.mtime)) differ.push({ path, why: 'mtime' })
  }
  if (opts.mirror) for (const path of other.keys()) if (!ref.has(path)) extra.push(path)
  const byPath = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0)
  return { missing: missing.sort(byPath), extra: extra.sort(byPath), differ: differ.sort((x, y) => byPath(x.path, y.path)) }
}

export const driftCount = (d: Drift) => d.missing.length + d.extra.length + d.differ.length

/** "3 differ from node-a (active): a (content), b (missing here), c (extra here)" with the first N named. */
export function describeDrift(d: Drift, active: string, listMax: number): string {
  const all = [
    ...d.differ.map((x) => ({ path: x.path, why: x.why })),
    ...d.missing.map((path) => ({ path, why: 'missing here' })),
    ...d.extra.map((path) => ({ path, why: 'extra here' })),
  ].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
  const shown = listSome(
    all.map((x) => `${x.path} (${x.why})`),
    listMax,
  )
  return `${all.length} entr${all.length === 1 ? 'y differs' : 'ies differ'} from ${active} (active): ${shown}`
}
