// Freshness, measured: a node is behind for an item when the item's tree on it differs from the
// active node's (path, type, size, whole-second mtime, symlink target; extra entries only for
// mirror items), leaving out exactly what sync leaves out (lib/sync/filters.ts). Nothing is
// inferred from sync records, so an item a sync skipped (version policy, a failure, a run that
// never happened) still shows. Every node lists every item in one round trip, all nodes at once;
// only names, sizes and times cross the network, never file content.
import { compareTrees, describeDrift, driftCount, filterTree } from './checks/drift.ts'
import { listingsScript, MISSING_EXIT, parseListings, type Tree } from './listing.ts'
import { RemoteError } from './errors.ts'
import { findNode } from './inventory/load.ts'
import type { Pair, SyncItem } from './inventory/schema.ts'
import type { SshPool } from './ssh.ts'
import { itemScope, type ItemScope } from './sync/filters.ts'

export interface Lag {
  item: string
  why: string
}
export type Behind = Record<string, Lag[]>

/** One node's listing of one item: its tree, or the listing's exit code when it failed. */
export interface ItemListing {
  code: number
  tree: Tree
}

/** Paths a reason names before "and N more". */
const NAMED = 3
/** Listing 20,000 files takes well under a second; a node this slow is not one to promote blindly. */
export const LIST_TIMEOUT_MS = 60_000

/**
 * Why `mine` is behind the active node's listing of the item, or undefined when it is not.
 * An active node without the item has nothing to hand on; a listing that failed is not proof
 * of freshness, so it counts as behind.
 */
export function itemLag(item: SyncItem, scope: Pick<ItemScope, 'skips'>, active: string, ref: ItemListing, mine: ItemListing): string | undefined {
  if (ref.code === MISSING_EXIT) return undefined
  if (ref.code !== 0) return `unknown: listing ${item.path} on ${active} failed (exit ${ref.code})`
  if (mine.code === MISSING_EXIT) return `missing: ${item.path} does not exist here`
  if (mine.code !== 0) return `unknown: listing ${item.path} failed here (exit ${mine.code})`
  const d = compareTrees(filterTree(ref.tree, scope.skips), filterTree(mine.tree, scope.skips), { deep: false, mirror: item.mirror ?? false })
  return driftCount(d) ? describeDrift(d, active, NAMED) : undefined
}

function chosen(pair: Pair, names?: string[]): SyncItem[] {
  const all = pair.sync?.items ?? []
  return names?.length ? all.filter((i) => names.includes(i.name)) : all
}

function comparedItems(pair: Pair, names?: string[]) {
  return chosen(pair, names)
    .map((item) => ({ item, scope: itemScope(pair, item) }))
    .filter((x) => !x.scope.whole)
}

/** What every node runs to list the items (the same script on each), and how many listings it prints; undefined: nothing to compare. */
export function listingPlan(pair: Pair, opts: { items?: string[] } = {}): { script: string; count: number } | undefined {
  const items = comparedItems(pair, opts.items)
  if (items.length === 0) return undefined
  return { script: listingsScript(items.map((x) => ({ path: x.item.path, protect: x.scope.protect }))), count: items.length }
}

/** One node's listings from what the listing script printed; an error when some are missing. Pure. */
export function listingOf(stdout: string, count: number, detail: string): NodeListing {
  const listings = parseListings(stdout)
  if (listings.length !== count) return { error: new Error(`listing cut short ${detail}`) }
  return { listings }
}

export type NodeListing = { listings: ItemListing[] } | { error: RemoteError | Error }

async function listOn(pool: SshPool, pair: Pair, node: string, script: string, count: number): Promise<NodeListing> {
  try {
    const r = await pool.session(pair, node).run({ script }, { check: false, timeoutMs: LIST_TIMEOUT_MS })
    return listingOf(r.stdout, count, `(exit ${r.code}): ${r.stderr.trim().split('\n').pop() ?? ''}`)
  } catch (e) {
    if (e instanceof RemoteError) return { error: e }
    throw e
  }
}

const failure = (e: RemoteError | Error) => (e instanceof RemoteError && e.notAsked ? `unreachable: ${e.message}` : `unknown: ${e.message}`)

/**
 * Per target, the items it is behind the active node on (empty: fresh), with why. Items wholly
 * inside a protected path are never compared (sync never touches them). A target that cannot
 * be listed has every item with why "unreachable: ..." (or "unknown: ..."). When the active node
 * itself cannot be listed there is nothing to measure against: RemoteError (unreachable set when
 * it could not be reached).
 */
export async function behind(
  pool: SshPool,
  pair: Pair,
  active: string,
  targets: string[],
  opts: { items?: string[]; listed?: Record<string, NodeListing> } = {},
): Promise<Behind> {
  const items = comparedItems(pair, opts.items)
  const out: Behind = Object.fromEntries(targets.map((t) => [t, [] as Lag[]]))
  const others = targets.filter((t) => t !== active)
  if (items.length === 0 || others.length === 0) return out
  const script = listingsScript(items.map((x) => ({ path: x.item.path, protect: x.scope.protect })))
  const [ref, ...theirs] = await Promise.all([active, ...others].map((n) => opts.listed?.[n] ?? listOn(pool, pair, n, script, items.length)))
  if ('error' in ref) {
    const e = ref.error
    throw e instanceof RemoteError ? e : new RemoteError(`cannot measure freshness: ${e.message}`, { node: active, host: findNode(pair, active).address })
  }
  others.forEach((t, k) => {
    const mine = theirs[k]
    out[t] = items.flatMap(({ item, scope }, i): Lag[] => {
      if ('error' in mine) return [{ item: item.name, why: failure(mine.error) }]
      const why = itemLag(item, scope, active, ref.listings[i], mine.listings[i])
      return why ? [{ item: item.name, why }] : []
    })
  })
  return out
}
