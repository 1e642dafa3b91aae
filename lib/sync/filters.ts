// Which paths an item must leave alone (protected: N8) or skip (exclude), as rsync filter rules
// and as matchers. The one home of the rule: both transports, the sync-drift check and the
// freshness measure (lib/freshness.ts) decide "sync does not touch this path" here.
import type { Pair, SyncItem } from '../inventory/schema.ts'
import { normalPath, within } from '../paths.ts'

/** Where rsync keeps an interrupted file, at the item's root; never sent, never deleted. */
export const PARTIAL_DIR = '.~tmp~'
/** The sftp transport's temporary names, beside the file they will replace. */
export const TEMP_PREFIX = '.hapair-tmp-'

/** The item's protected paths (its own and the pair-wide ones that fall inside it), relative to the item. */
export function protectedIn(pair: Pair, item: SyncItem): string[] {
  const root = normalPath(item.path)
  const all = [...(item.protect ?? []), ...(pair.sync?.protected ?? [])]
  const rel = all.filter((p) => within(p, root) && normalPath(p) !== root).map((p) => normalPath(p).slice(root.length + 1))
  return [...new Set(rel)].sort()
}

/** True when a pair-wide protected path covers the whole item: nothing of it may be written. */
export function itemInsideProtected(pair: Pair, item: SyncItem): boolean {
  return (pair.sync?.protected ?? []).some((p) => within(item.path, p))
}

/**
 * A literal path as an rsync pattern. rsync treats * ? [ as wildcards, and a backslash as an
 * escape only when the pattern holds a wildcard; so escape only then.
 */
export function rsyncLiteral(rel: string): string {
  return /[*?[]/.test(rel) ? rel.replace(/[\\*?[]/g, (c) => '\\' + c) : rel
}

/**
 * Filter rules for the protected paths: P keeps the receiver from deleting them, - keeps the
 * sender from sending them; each anchored at the item's root.
 */
export function protectRules(rel: string[]): string[] {
  return rel.flatMap((r) => [`--filter=P /${rsyncLiteral(r)}`, `--filter=- /${rsyncLiteral(r)}`])
}

function globSource(glob: string): string {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*'
        i++
      } else re += '[^/]*'
    } else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end < 0) {
        re += '\\['
        continue
      }
      let body = glob.slice(i + 1, end)
      if (body.startsWith('!')) body = '^' + body.slice(1)
      re += '[' + body.replace(/\\/g, '\\\\') + ']'
      i = end
    } else if (c === '\\' && i + 1 < glob.length) re += '\\' + glob[++i]
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return re
}

/**
 * rsync's exclude semantics for the sftp transport: a leading / anchors at the item root, a
 * trailing / matches directories only, a pattern with / or ** matches the whole relative path
 * (its tail when not anchored), any other pattern the last component.
 */
export function excludeMatcher(patterns: string[]): (rel: string, isDir: boolean) => boolean {
  const tests = patterns.map((raw) => {
    let p = raw
    const dirOnly = p.endsWith('/')
    if (dirOnly) p = p.replace(/\/+$/, '')
    const anchored = p.startsWith('/')
    if (anchored) p = p.replace(/^\/+/, '')
    const full = anchored || p.includes('/') || p.includes('**')
    const re = new RegExp((full ? (anchored ? '^' : '(^|/)') : '^') + globSource(p) + '$')
    return (rel: string, isDir: boolean) => {
      if (dirOnly && !isDir) return false
      return re.test(full ? rel : rel.slice(rel.lastIndexOf('/') + 1))
    }
  })
  return (rel, isDir) => tests.some((t) => t(rel, isDir))
}

/** Protected paths and their contents. */
export function protectedMatcher(rel: string[]): (p: string) => boolean {
  return (p) => rel.some((r) => p === r || p.startsWith(r + '/'))
}

/** The transports' own scratch entries: never data, never compared. */
export const isScratch = (rel: string) => {
  const name = rel.slice(rel.lastIndexOf('/') + 1)
  return rel === PARTIAL_DIR || rel.startsWith(PARTIAL_DIR + '/') || name.startsWith(TEMP_PREFIX)
}

/**
 * True for a path (relative to the item root) sync never writes or deletes: protected, excluded,
 * the transports' scratch, or anything under one of those. Ancestors are tested too, so a flat
 * listing gives the same answer as a walk that prunes.
 */
export function skipMatcher(exclude: string[], protectRel: string[]): (rel: string, isDir: boolean) => boolean {
  const excluded = excludeMatcher(exclude)
  const prot = protectedMatcher(protectRel.map((r) => normalPath(r).slice(1)))
  const hit = (rel: string, isDir: boolean) => prot(rel) || excluded(rel, isDir)
  return (raw, isDir) => {
    const rel = normalPath(raw).slice(1)
    if (isScratch(rel) || hit(rel, isDir)) return true
    for (let k = rel.indexOf('/'); k > 0; k = rel.indexOf('/', k + 1)) if (hit(rel.slice(0, k), true)) return true
    return false
  }
}

/** What sync does with one item of a pair, for every reader of its trees. */
export interface ItemScope {
  /** A pair-wide protected path covers the whole item: sync never touches any of it. */
  whole: boolean
  /** Protected paths relative to the item root. */
  protect: string[]
  skips: (rel: string, isDir: boolean) => boolean
}

export function itemScope(pair: Pair, item: SyncItem): ItemScope {
  const protect = protectedIn(pair, item)
  return { whole: itemInsideProtected(pair, item), protect, skips: skipMatcher(item.exclude ?? [], protect) }
}
