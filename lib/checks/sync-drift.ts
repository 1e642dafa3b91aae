// Seed 000/002: every secondary holds what the active node holds. Listings (and, with --deep,
// content digests) are made on the nodes themselves, all nodes at once; only names, sizes,
// times and digests cross the network, never file content.
import type { SyncItem } from '../inventory/schema.ts'
import { deepScript, listingScript, MISSING_EXIT, parseListing, type Tree } from '../listing.ts'
import { itemScope } from '../sync/filters.ts'
import { compareTrees, describeDrift, driftCount, filterTree } from './drift.ts'
import { LONG_TIMEOUT_MS, failureDetail } from '../outcome.ts'
import type { Check, CheckContext, CheckResult, Verdict } from './types.ts'

interface ItemRun {
  tree?: Tree
  missing?: boolean
  error?: string
}

async function listItem(ctx: CheckContext, item: SyncItem, protectedRel: string[]): Promise<Record<string, ItemRun>> {
  const script = ctx.deep ? deepScript(item.path, protectedRel) : listingScript(item.path, protectedRel)
  const out: Record<string, ItemRun> = {}
  await Promise.all(
    ctx.reachable.map(async (n) => {
      try {
        const r = await ctx.pool.session(ctx.pair, n).run({ script }, { check: false, timeoutMs: LONG_TIMEOUT_MS })
        if (r.code === MISSING_EXIT) out[n.name] = { missing: true }
        else if (r.code !== 0) out[n.name] = { error: `listing ${item.path} failed (exit ${r.code}): ${r.stderr.trim().split('\n').pop()}` }
        else out[n.name] = { tree: parseListing(r.stdout) }
      } catch (e) {
        out[n.name] = { error: failureDetail(e) }
      }
    }),
  )
  return out
}

export function judgeItem(
  item: SyncItem,
  runs: Record<string, ItemRun>,
  node: string,
  active: string,
  opts: { deep: boolean; listMax: number; exclude: (t: Tree) => Tree },
): Verdict {
  const mine = runs[node]
  if (mine.error) return { ok: false, detail: mine.error }
  if (mine.missing) return { ok: false, detail: `${item.path} does not exist here${node === active ? ' on the active node' : ''}: run the sync playbook` }
  const mineTree = opts.exclude(mine.tree!)
  if (node === active) return { ok: true, detail: `reference, ${mineTree.size} entries` }
  const ref = runs[active]
  if (!ref) return { ok: false, detail: `cannot compare: the active node ${active} did not answer` }
  if (!ref.tree) return { ok: false, detail: `cannot compare: ${ref.missing ? `${item.path} missing` : 'listing failed'} on the active node ${active}` }
  const d = compareTrees(opts.exclude(ref.tree), mineTree, { deep: opts.deep, mirror: item.mirror ?? false })
  if (driftCount(d) === 0) return { ok: true, detail: `${mineTree.size} entries match ${active}${opts.deep ? ' (content)' : ' (size, mtime)'}` }
  return { ok: false, detail: `${describeDrift(d, active, opts.listMax)}; run the sync playbook from ${active}` }
}

export const syncDriftCheck: Check = {
  name: 'sync-drift',
  summary: 'the sync items on every secondary match the active node (size + mtime; --deep: content checksums), protected paths excluded',
  run: async (ctx) => {
    const items = [...(ctx.pair.sync?.items ?? [])].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))
    const parts: Record<string, (Verdict & { label: string })[]> = {}
    const ms: Record<string, number> = {}
    for (const n of ctx.reachable) {
      parts[n.name] = []
      ms[n.name] = 0
    }
    for (const item of items) {
      const scope = itemScope(ctx.pair, item)
      if (scope.whole) continue // the whole item is protected: sync never touches it
      const started = performance.now()
      ctx.step?.phase(`${ctx.pair.name} sync-drift: ${ctx.deep ? 'hashing' : 'listing'} ${item.name} on ${ctx.reachable.map((n) => n.name).join(', ')}`)
      const runs = await listItem(ctx, item, scope.protect)
      // What was compared, as the active node's listing sizes it: known once the item is done, not before.
      ctx.step?.add([...(runs[ctx.active]?.tree?.values() ?? [])].reduce((n, e) => n + (e.type === 'f' ? e.size : 0), 0))
      const took = performance.now() - started
      for (const n of ctx.reachable) {
        ms[n.name] += took
        parts[n.name].push({
          ...judgeItem(item, runs, n.name, ctx.active, { deep: ctx.deep, listMax: ctx.listMax, exclude: (t) => filterTree(t, scope.skips) }),
          label: item.name,
        })
      }
    }
    return ctx.reachable.map((n): CheckResult => {
      const ps = parts[n.name]
      const bad = ps.filter((p) => !p.ok)
      const detail = ps.length === 0 ? 'no sync items declared' : (bad.length ? bad : ps).map((p) => `${p.label}: ${p.detail}`).join('; ')
      return { pair: ctx.pair.name, node: n.name, check: 'sync-drift', ok: bad.length === 0, detail, ms: ms[n.name] }
    })
  },
}
