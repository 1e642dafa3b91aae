// The tree listing a node sends: what is under a path, with sizes, times, link targets and
// (deep) sha256 digests, made on the node so that file content never crosses the network. The
// scripts that write it and the parser that reads it live here together, so the format has one
// home: the sync-drift check, the freshness measure (lib/freshness.ts) and the test restore of a
// backup (lib/backup/integrity.ts) all speak it.
import { shJoin } from './shell.ts'

export interface ListingEntry {
  type: string
  size: number
  mtime: number
  target: string
  digest?: string
}
export type Tree = Map<string, ListingEntry>

/** find -printf fields of one record: type, size, mtime, path under the root, link target. */
export const LISTING_FIELDS = String.raw`%y\0%s\0%T@\0%P\0%l\0`
/** Marks the end of the listing records; a find type letter can never be this. */
export const LISTING_END = 'END'
/** Ends one item's records in a several-item listing: "ITEM\0<exit code>\0\0\0\0". */
export const ITEM_END = 'ITEM'
/** Files per sha256sum process: large enough that process start-up is noise, small enough to spread over the hashers. */
export const HASH_BATCH = 256
export const MISSING_EXIT = 3

/**
 * Hashes the NUL-separated names on stdin with as many sha256sum processes as the node has
 * CPUs; each appends to a file of its own in "$d" (parallel writers to one pipe would
 * interleave records). HASHES_OUT then sends them all.
 */
export const hashers = (batch: number) => `xargs -0 -r -P "$(nproc)" -n ${batch} sh -c 'exec sha256sum -z -- "$@" >> "$0/h.$$"' "$d"`
export const HASHES_OUT = 'cat "$d"/h.* 2>/dev/null'

/** `find` glob-escaping: a protected path is a literal, not a pattern. */
const findLiteral = (rel: string) => './' + rel.replace(/[\\*?[\]]/g, '\\$&')

function pruneWords(protectedRel: string[]): string[] {
  const rel = protectedRel.filter(Boolean)
  if (rel.length === 0) return []
  return ['(', ...rel.flatMap((p, i) => [...(i ? ['-o'] : []), '-path', findLiteral(p)]), ')', '-prune', '-o']
}

export function listingScript(path: string, protectedRel: string[]): string {
  return `cd -- ${shJoin([path])} 2>/dev/null || exit ${MISSING_EXIT}; ${shJoin(['find', '.', ...pruneWords(protectedRel), '-printf', LISTING_FIELDS])}`
}

/** Several items in one round trip: each item's listing, then its end marker with the listing's exit code. */
export function listingsScript(items: { path: string; protect: string[] }[]): string {
  return items.map((i) => `(${listingScript(i.path, i.protect)}); printf '${ITEM_END}\\0%s\\0\\0\\0\\0' "$?"`).join('\n')
}

/** The listing goes to a temp file in the same walk that feeds the hashers, then all is sent. */
export function deepScript(path: string, protectedRel: string[], batch = HASH_BATCH): string {
  const find = shJoin(['find', '.', ...pruneWords(protectedRel), '(', '-fprintf', '@LIST@', LISTING_FIELDS, '-type', 'f', '-print0', ')']).replace(
    '@LIST@',
    '"$d/list"',
  ) // a bare word (shq leaves it unquoted): the shell must expand $d
  return [
    `cd -- ${shJoin([path])} 2>/dev/null || exit ${MISSING_EXIT}`,
    'd=$(mktemp -d) || exit 1',
    `trap 'rm -rf "$d"' EXIT`,
    `trap 'exit 129' HUP INT TERM PIPE`,
    `${find} | ${hashers(batch)}`,
    `cat "$d/list"; printf '${LISTING_END}\\0'; ${HASHES_OUT}; exit 0`,
  ].join('\n')
}

/**
 * Records of five NUL-terminated fields (LISTING_FIELDS), then optionally "END\0" and
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

/** A several-item listing (listingsScript): each item's tree and its listing's exit code, in order. */
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

/** Five-field records from f[i] into tree, up to the record whose type is `stop`; returns its index. */
function readRecords(f: string[], i: number, tree: Tree, stop: string): number {
  for (; i + 4 < f.length && f[i] !== stop; i += 5) {
    if (f[i + 3] === '') continue // the item's root itself
    tree.set(f[i + 3], { type: f[i], size: Number(f[i + 1]), mtime: Number(f[i + 2]), target: f[i + 4] })
  }
  return i
}
