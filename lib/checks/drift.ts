// Sync drift, the pure half: parse the listings the nodes send, drop what sync never touches
// (protected paths, rsync-style excludes: lib/sync/filters.ts decides, for sync and for this),
// and compare a node's tree with the active node's.

export interface ListingEntry { type: string; size: number; mtime: number; target: string; digest?: string }
export type Tree = Map<string, ListingEntry>
export interface Difference { path: string; why: string }
export interface Drift { missing: string[]; extra: string[]; differ: Difference[] }

/** Marks the end of the listing records; a find type letter can never be this. */
export const LISTING_END = 'END'

/**
 * Records of five NUL-terminated fields (%y %s %T@ %P %l), then optionally "END\0" and
 * sha256sum -z lines "<hex>  ./<path>\0". Fields are counted, never split on a byte a file
 * name could contain.
 */
export function parseListing(out: string): Tree {
  const f = out.split('\0')
  const tree: Tree = new Map()
  const i = readRecords(f, 0, tree, LISTING_END)
  if (f[i] === LISTING_END) {
    for (const rec of f.slice(i + 1)) {
      if (rec.length < 67) continue
      const e = tree.get(rec.slice(66).replace(/^\.\//, ''))
      if (e) e.digest = rec.slice(0, 64)
    }
  }
  return tree
}

/** Which listed paths to drop: sync's own rule (lib/sync/filters.ts skipMatcher / itemScope). */
export interface Excluder { (path: string, isDir: boolean): boolean }

/** Five-field records from f[i] into tree, up to the record whose type is `stop`; returns its index. */
function readRecords(f: string[], i: number, tree: Tree, stop: string): number {
  for (; i + 4 < f.length && f[i] !== stop; i += 5) {
    if (f[i + 3] === '') continue // the item's root itself
    tree.set(f[i + 3], { type: f[i], size: Number(f[i + 1]), mtime: Number(f[i + 2]), target: f[i + 4] })
  }
  return i
}

/** Ends one item's records in a several-item listing: "ITEM\0<exit code>\0\0\0\0". */
export const ITEM_END = 'ITEM'

/** A several-item listing (sync-drift.ts listingsScript): each item's tree and its listing's exit code, in order. */
export function parseListings(out: string): { code: number; tree: Tree }[] {
  const f = out.split('\0')
  const all: { code: number; tree: Tree }[] = []
  for (let i = 0; i + 4 < f.length;) {
    const tree: Tree = new Map()
    i = readRecords(f, i, tree, ITEM_END)
    if (i + 4 >= f.length) break // cut short: the item's end marker never came
    all.push({ code: Number(f[i + 1]), tree })
    i += 5
  }
  return all
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
    if (!b) { missing.push(path); continue }
    if (a.type !== b.type) { differ.push({ path, why: `${typeName(b.type)} here, ${typeName(a.type)} on the active node` }); continue }
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
  const shown = all.slice(0, listMax).map((x) => `${x.path} (${x.why})`).join(', ')
  const more = all.length > listMax ? ` and ${all.length - listMax} more` : ''
  return `${all.length} entr${all.length === 1 ? 'y differs' : 'ies differ'} from ${active} (active): ${shown}${more}`
}
