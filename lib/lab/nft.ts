// Network faults the way the world makes them: a firewall that drops one host's traffic to
// another (partition, possibly one-way) and a flaky link (random loss). All of it is one nft
// table of family bridge in the bridge namespace, matching the ports frames enter and leave by:
// it drops ARP and the floating IPs' traffic too, whatever addresses the nodes use, and the
// nodes' own namespaces stay untouched. `lab down` deletes the namespace, and the table with it.
//
// The table is the record: each rule's comment names its fault, so status reads the kernel, not
// a file that could disagree with it, and every change rewrites the whole table in one nft
// transaction.
import { HapairError, InputError } from '../errors.ts'
import type { LabPlan } from './plan.ts'
import { run } from './proc.ts'
import { findTool } from './tools.ts'

export const NFT_TABLE = 'hapair'
/** The name under which partition and loss mean the controller (its veth's bridge end). */
export const CONTROLLER = 'controller'

/** from -> to frames are dropped; a two-way partition is two of these. */
export interface Drop {
  from: string
  to: string
}
export interface Loss {
  host: string
  pct: number
}
export interface NetFaults {
  drops: Drop[]
  loss: Loss[]
}
export interface Partition {
  a: string
  b: string
  oneWay: boolean
  dropped?: number
}

export const noNetFaults = (): NetFaults => ({ drops: [], loss: [] })

/** Node names, then the controller; a node named "controller" shadows it. */
export function hostNames(plan: LabPlan): string[] {
  const nodes = [...plan.nodes, ...plan.bastions].map((n) => n.name)
  return nodes.includes(CONTROLLER) ? nodes : [...nodes, CONTROLLER]
}

/** The bridge port a host's frames enter and leave by; InputError (exit 2) for an unknown name. */
export function hostPort(plan: LabPlan, host: string): string {
  const n = plan.nodes.find((x) => x.name === host) ?? plan.bastions.find((x) => x.name === host)
  if (n) return n.port
  if (host === CONTROLLER) return plan.bridgePeer
  throw new InputError(`lab ${plan.lab}: no host named "${host}" (hosts: ${hostNames(plan).join(', ')})`)
}

/** Whole percent 0..100 ("30" or "30%"); InputError otherwise. */
export function parsePercent(s: string | number): number {
  const m = /^(\d{1,3})%?$/.exec(String(s).trim())
  const pct = m ? Number(m[1]) : NaN
  if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new InputError(`loss percent must be a whole number 0..100 (got "${s}")`)
  return pct
}

/** Adds a partition (both directions unless oneWay); idempotent. */
export function withPartition(f: NetFaults, a: string, b: string, oneWay: boolean): NetFaults {
  if (a === b) throw new InputError(`partition needs two different hosts (got ${a} twice)`)
  const add = oneWay
    ? [{ from: a, to: b }]
    : [
        { from: a, to: b },
        { from: b, to: a },
      ]
  const drops = [...f.drops]
  for (const d of add) if (!drops.some((x) => x.from === d.from && x.to === d.to)) drops.push(d)
  return { ...f, drops }
}

/** Sets a host's loss; 0 removes it. */
export function withLoss(f: NetFaults, host: string, pct: number): NetFaults {
  const loss = f.loss.filter((l) => l.host !== host)
  if (pct > 0) loss.push({ host, pct })
  return { ...f, loss }
}

export const hasNetFaults = (f: NetFaults) => f.drops.length > 0 || f.loss.length > 0

const commentOf = {
  drop: (d: Drop) => `drop ${d.from}>${d.to}`,
  loss: (l: Loss, dir: 'in' | 'out') => `loss ${l.host} ${l.pct} ${dir}`,
}
// Names are the inventory's ([a-z0-9_.-], checked by its schema); anything else would not
// survive nft's quoting, so it never reaches a ruleset.
const SAFE = /^[a-z0-9][a-z0-9_.-]*$/
function safe(s: string): string {
  if (!SAFE.test(s)) throw new InputError(`"${s}" cannot be named in an nft rule (only a-z 0-9 _ . -)`)
  return s
}

export interface Counter {
  packets: number
  bytes: number
}
/** Per rule comment: what each rule dropped so far. */
export type Counters = Record<string, Counter>

/**
 * The nft script (for `nft -f -`) that makes the table exactly `f`: declare, delete, redefine in
 * one transaction, so it works whether the table exists or not (nft 1.0.6 has no `destroy`).
 * Rules that survive a rewrite keep their counts (`counters`, as read before). No faults: the
 * table is removed.
 */
export function faultRuleset(plan: LabPlan, f: NetFaults, counters: Counters = {}): string {
  const lines = [`table bridge ${NFT_TABLE}`, `delete table bridge ${NFT_TABLE}`]
  if (!hasNetFaults(f)) return lines.join('\n') + '\n'
  const counter = (comment: string) => {
    // nft keeps at most 128 bytes of a comment, and the comment is how the fault is read back.
    if (comment.length > 128) throw new InputError(`host names too long for the lab's nft table ("${comment}" is over 128 characters)`)
    const c = counters[comment]
    return c ? `counter packets ${Math.trunc(c.packets)} bytes ${Math.trunc(c.bytes)}` : 'counter'
  }
  const rules: string[] = []
  for (const d of f.drops) {
    const i = safe(hostPort(plan, d.from))
    const o = safe(hostPort(plan, d.to))
    const c = commentOf.drop({ from: safe(d.from), to: safe(d.to) })
    rules.push(`iifname "${i}" oifname "${o}" ${counter(c)} drop comment "${c}"`)
  }
  for (const l of f.loss) {
    const port = safe(hostPort(plan, l.host))
    if (!Number.isInteger(l.pct) || l.pct < 1 || l.pct > 100) throw new InputError(`loss percent must be 1..100 in a rule (got ${l.pct})`)
    // Each direction on its own: frames into the bridge from the host, and frames out to it.
    const match = l.pct === 100 ? '' : ` numgen random mod 100 < ${l.pct}`
    for (const [key, dir] of [
      ['iifname', 'in'],
      ['oifname', 'out'],
    ] as const) {
      const c = commentOf.loss({ host: safe(l.host), pct: l.pct }, dir)
      rules.push(`${key} "${port}"${match} ${counter(c)} drop comment "${c}"`)
    }
  }
  return (
    [
      ...lines,
      `table bridge ${NFT_TABLE} {`,
      '  chain forward {',
      '    type filter hook forward priority 0; policy accept;',
      ...rules.map((r) => `    ${r}`),
      '  }',
      '}',
    ].join('\n') + '\n'
  )
}

interface NftRule {
  rule?: { comment?: string; expr?: { counter?: { packets?: number; bytes?: number } }[] }
}

export interface ReadFaults extends NetFaults {
  counters: Counters
}

const NAME = '[a-z0-9][a-z0-9_.-]*'
const DROP_RE = new RegExp(`^drop (${NAME})>(${NAME})$`)
const LOSS_RE = new RegExp(`^loss (${NAME}) (\\d{1,3}) (in|out)$`)

/** The faults recorded in `nft -j list table bridge hapair` output (rules we did not write are ignored). */
export function parseFaultTable(json: string): ReadFaults {
  const out: ReadFaults = { drops: [], loss: [], counters: {} }
  const doc = JSON.parse(json) as { nftables?: NftRule[] }
  for (const item of doc.nftables ?? []) {
    const c = item.rule?.comment
    if (!c) continue
    const k = item.rule?.expr?.find((e) => e.counter)?.counter
    const prev = out.counters[c] ?? { packets: 0, bytes: 0 }
    out.counters[c] = { packets: prev.packets + (k?.packets ?? 0), bytes: prev.bytes + (k?.bytes ?? 0) }
    const d = DROP_RE.exec(c)
    if (d) {
      if (!out.drops.some((x) => x.from === d[1] && x.to === d[2])) out.drops.push({ from: d[1], to: d[2] })
      continue
    }
    const l = LOSS_RE.exec(c)
    if (l && !out.loss.some((x) => x.host === l[1])) out.loss.push({ host: l[1], pct: Number(l[2]) })
  }
  return out
}

const packets = (counters: Counters, comment: string) => counters[comment]?.packets ?? 0

/** Drops folded into partitions: a->b and b->a together are one two-way partition. */
export function partitionsOf(f: NetFaults, counters: Counters = {}): Partition[] {
  const out: Partition[] = []
  const seen = new Set<string>()
  for (const d of f.drops) {
    if (seen.has(`${d.from}>${d.to}`)) continue
    seen.add(`${d.from}>${d.to}`)
    const back = f.drops.some((x) => x.from === d.to && x.to === d.from)
    if (back) seen.add(`${d.to}>${d.from}`)
    const dropped = packets(counters, commentOf.drop(d)) + (back ? packets(counters, commentOf.drop({ from: d.to, to: d.from })) : 0)
    out.push({ a: d.from, b: d.to, oneWay: !back, dropped })
  }
  return out
}

/** What a loss fault dropped so far, both directions. */
export const lossDropped = (l: Loss, counters: Counters) => packets(counters, commentOf.loss(l, 'in')) + packets(counters, commentOf.loss(l, 'out'))

export function describeNetFaults(f: NetFaults): string[] {
  return [...partitionsOf(f).map((p) => `partition ${p.a} ${p.oneWay ? '->' : '<->'} ${p.b}`), ...f.loss.map((l) => `loss ${l.host} ${l.pct}%`)]
}

function requireNft(): void {
  if (!findTool('nft')) throw new InputError('lab network faults need nft: apt-get install -y nftables (or: node scripts/setup.mjs)')
}

/** nft inside the bridge namespace only: `ip netns exec` fails rather than fall back to ours. */
const nftInBridge = (plan: LabPlan, args: string[], input?: string) => run('ip', ['netns', 'exec', plan.bridgeNs, 'nft', ...args], { input })

export async function readNetFaults(plan: LabPlan): Promise<ReadFaults> {
  if (!findTool('nft')) return { ...noNetFaults(), counters: {} }
  const r = await nftInBridge(plan, ['-j', 'list', 'table', 'bridge', NFT_TABLE])
  // No table is no fault (also: the bridge namespace is gone, i.e. the lab is down).
  if (r.code !== 0 || !r.stdout.trim()) return { ...noNetFaults(), counters: {} }
  return parseFaultTable(r.stdout)
}

export async function writeNetFaults(plan: LabPlan, f: NetFaults, counters: Counters = {}): Promise<void> {
  requireNft()
  const script = faultRuleset(plan, f, counters)
  const r = await nftInBridge(plan, ['-f', '-'], script)
  if (r.code !== 0) throw new HapairError(`nft in ${plan.bridgeNs} refused the fault table: ${(r.stderr || r.stdout).trim()}\n${script}`)
}
