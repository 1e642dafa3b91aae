// What the run will do, decided before anything moves: items in priority order, and for each
// item and target whether the version policy lets it through. Pure, so every rule is unit-tested.
import { InputError } from '../errors.ts'
import type { Pair, SyncItem } from '../inventory/schema.ts'
import { itemInsideProtected } from './filters.ts'
import type { Policy } from './types.ts'

/** A version as a node reported it: the value, or why it could not be read. */
export interface VersionValue {
  value?: string
  error?: string
}

/** What the probe learnt from one node. */
export interface NodeFacts {
  software?: VersionValue
  items: Record<string, VersionValue>
  rsync: boolean
  /** The node's known_hosts for the node-to-node hop, as read (absent: not asked). */
  knownHosts?: string
  /** The owner file of the pair's operation lock (lib/lock.ts), when one is held. */
  lock?: string
}

export type Action = 'sync' | 'skip' | 'fail' | 'pending'

export interface Step {
  item: SyncItem
  target: string
  action: Action
  reason?: string
  /** The failure is the link's: the target could not be reached. */
  link?: boolean
  versions?: { source?: string; target?: string }
}

/** Higher priority first; equal priorities keep the inventory's order (Array.sort is stable). */
export function orderItems(items: SyncItem[]): SyncItem[] {
  return [...items].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))
}

/** The items named on the command line (repeated or comma-separated), or all of them. */
export function selectItems(pair: Pair, names: string[] = []): SyncItem[] {
  const all = pair.sync?.items ?? []
  const wanted = names
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean)
  if (wanted.length === 0) return orderItems(all)
  const unknown = wanted.filter((n) => !all.some((i) => i.name === n))
  if (unknown.length)
    throw new InputError(
      `pair ${pair.name} has no sync item ${unknown.map((n) => `"${n}"`).join(', ')} (items: ${all.map((i) => i.name).join(', ') || 'none'})`,
    )
  return orderItems(all.filter((i) => wanted.includes(i.name)))
}

/**
 * Orders dotted versions part by part: numbers numerically (1.10 > 1.9), other parts as text
 * with embedded numbers compared as numbers; a missing part counts as 0, so 1 equals 1.0.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.trim().split('.'),
    pb = b.trim().split('.')
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0',
      y = pb[i] ?? '0'
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) {
      const d = Number(x) - Number(y)
      if (d !== 0) return Math.sign(d)
    } else {
      const d = x.localeCompare(y, 'en', { numeric: true })
      if (d !== 0) return Math.sign(d)
    }
  }
  return 0
}

/** The version an item is judged by: its own data version, else the node's software version, else none. */
export function itemVersion(pair: Pair, item: SyncItem, facts: NodeFacts): VersionValue | undefined {
  if (item.version) return facts.items[item.name] ?? { error: 'not reported' }
  if (pair.software) return facts.software ?? { error: 'not reported' }
  return undefined
}

export type Gate = { ok: true; note?: string } | { ok: false; reason: string; unknown?: boolean }

const RULE: Record<Exclude<Policy, 'always'>, { allows: (c: number) => boolean; wants: string }> = {
  equal: { allows: (c) => c === 0, wants: 'equal versions' },
  upgrade: { allows: (c) => c <= 0, wants: "a source version not above the target's" },
  downgrade: { allows: (c) => c >= 0, wants: "a source version not below the target's" },
}

/**
 * N9: equal syncs only between equal versions; upgrade also lets a lower source feed a higher
 * target; downgrade the reverse; always ignores versions. A version that cannot be read stops
 * the item (unknown), except on a bootstrap target, which has no data yet.
 */
export function gate(policy: Policy, source: VersionValue | undefined, target: VersionValue | undefined, opts: { bootstrap?: boolean } = {}): Gate {
  if (policy === 'always') return { ok: true }
  if (!source && !target) return { ok: true }
  if (!source?.value) return { ok: false, unknown: true, reason: `source data version unknown (${source?.error ?? 'not declared'})` }
  if (!target?.value) {
    if (opts.bootstrap) return { ok: true, note: 'target has no data version yet (bootstrap)' }
    return { ok: false, unknown: true, reason: `target data version unknown (${target?.error ?? 'not declared'}); a new node? use --bootstrap` }
  }
  const c = compareVersions(source.value, target.value)
  const rule = RULE[policy]
  if (rule.allows(c)) return { ok: true }
  const rel = c < 0 ? 'lower than' : c > 0 ? 'higher than' : 'equal to'
  return { ok: false, reason: `policy ${policy} needs ${rule.wants}: source ${source.value} is ${rel} target ${target.value}` }
}

export interface PlanInput {
  pair: Pair
  items: SyncItem[]
  targets: string[]
  source: NodeFacts
  /** Per target: its facts, or why it could not be reached. */
  reach: Record<string, NodeFacts | { unreachable: string }>
  bootstrap?: boolean
}

/** One step per item and target, item-major in priority order. */
export function buildPlan(input: PlanInput): Step[] {
  const { pair, source } = input
  const steps: Step[] = []
  for (const item of input.items) {
    const transport = item.transport ?? 'rsync'
    for (const target of input.targets) {
      const t = input.reach[target]
      const step = (action: Action, extra: Partial<Step> = {}): Step => ({ item, target, action, ...extra })
      if (itemInsideProtected(pair, item)) {
        steps.push(step('skip', { reason: `${item.path} lies inside a protected path` }))
        continue
      }
      if (!t || 'unreachable' in t) {
        steps.push(step('pending', { link: true, reason: t ? t.unreachable : 'not probed' }))
        continue
      }
      if (transport === 'rsync' && !source.rsync) {
        steps.push(step('fail', { reason: 'rsync is not installed on the source node' }))
        continue
      }
      if (transport === 'rsync' && !t.rsync) {
        steps.push(step('fail', { reason: `rsync is not installed on ${target}: install it, or set this item's transport to sftp` }))
        continue
      }
      const sv = itemVersion(pair, item, source)
      const tv = itemVersion(pair, item, t)
      const versions = sv || tv ? { source: sv?.value, target: tv?.value } : undefined
      const g = gate(item.policy ?? 'equal', sv, tv, { bootstrap: input.bootstrap })
      if (g.ok) steps.push(step('sync', { versions, reason: g.note }))
      else steps.push(step(g.unknown ? 'fail' : 'skip', { versions, reason: g.reason }))
    }
  }
  return steps
}
