// Scale mode: one lab of N pairs (up to 20: 40 nodes, 20 VIPs and the controller fill
// 198.51.100.192/26, test slots 6 and 7), one watcher for all of them. Measured: the watcher's
// CPU over 60 s (its whole process tree, as % of one core), then one link-cut takeover of one
// pair, which must still be as quick while every other pair keeps its VIP. With --baseline DIR
// (another checkout of hapair, e.g. a worktree of the last release) the CPU is measured for both
// watchers in turn, --rounds times each, on the same lab: a ratio from one run, not two.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadInventory } from '../../lib/inventory/load.ts'
import { labDown, labFault, labUp } from '../../lib/lab/index.ts'
import { intToIp, ipToInt } from '../../lib/lab/plan.ts'
import { Watcher, watcherMissing } from './hapair.ts'
import { firstAnswerFrom, servedBy } from './poller.ts'
import { CLK_TCK, sleep, treeTicks } from './proc.ts'
import { claimSlots, releaseSlots } from './slots.ts'
import { FAKE_DB } from '../../test/helpers/lab.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SUBNET = '198.51.100.192/26'
const SLOTS = [6, 7]
const LAB = 'bw'
export const MAX_PAIRS = 20
const CPU_WINDOW_S = 60

const base = ipToInt('198.51.100.192')
const pairName = (i: number) => `p${String(i + 1).padStart(2, '0')}`

/**
 * The demo pair of inventory/lab.json, N times: .193 is the controller, pair i's nodes are
 * .194+2i and .195+2i, its VIP .194+2N+i; names p01..pNN, nodes p01-a/p01-b. Every other setting
 * (services, sync, checks) is the demo's, so each pair is what the single-pair bench runs: with
 * the lab's fake db (startTestLab's), not the demo's PostgreSQL, so figures compare across runs.
 */
export function scaleInventory(pairs: number): any {
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > MAX_PAIRS) throw new Error(`--scale: 1..${MAX_PAIRS} pairs fit in ${SUBNET} (got ${pairs})`)
  const demo = JSON.parse(readFileSync(path.join(root, 'inventory/lab.json'), 'utf8'))
  const controller = intToIp(base + 1)
  const swap = (v: unknown, map: Record<string, string>): unknown => {
    if (typeof v === 'string') return map[v] ?? v.split('.lab/demo/').join(`.lab/${LAB}/`)
    if (Array.isArray(v)) return v.map((x) => swap(x, map))
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x, map)]))
    return v
  }
  const template = demo.pairs[0]
  template.services = template.services.map((s: { name: string }) => (s.name === 'db' ? FAKE_DB : s))
  const out = swap({ ...demo, pairs: [] }, {}) as any
  out.$schema = path.join(root, 'schemas/inventory.schema.json')
  out.lab = { name: LAB, subnet: SUBNET, controller }
  out.pairs = Array.from({ length: pairs }, (_, i) =>
    swap(template, {
      demo: pairName(i),
      'node-a': `${pairName(i)}-a`,
      'node-b': `${pairName(i)}-b`,
      '198.51.100.1': controller,
      '198.51.100.11': intToIp(base + 2 + 2 * i),
      '198.51.100.12': intToIp(base + 3 + 2 * i),
      '198.51.100.20': intToIp(base + 2 + 2 * pairs + i),
      '198.51.100.0/27': SUBNET,
    }),
  )
  return out
}

export interface ScaleResult {
  pairs: number
  labUpMs?: number
  vipsServing?: number
  skipped?: string
  error?: string
  cpu?: { windowS: number; ticks: number; pctOfOneCore: number }
  /** --baseline: each round's CPU (% of one core) of this checkout's watcher and the baseline's, alternated. */
  compare?: { baseline: string; windowS: number; rounds: { ours: number; baseline: number; load: number }[] }
  takeover?: {
    pair: string
    detectionMs: number | null
    servingMs: number | null
    otherPairsServing: number
    otherTakeovers: number
    /** The watcher's events for that pair from the cut on (ms from the cut). */
    events: unknown[]
  }
}

export async function runScale(
  pairs: number,
  log: (l: string) => void,
  compare?: { baseline: string; rounds: number },
): Promise<{ ok: boolean; text: string; result: ScaleResult }> {
  const json = scaleInventory(pairs)
  // hapair-lab-*: a test that reclaims our slots after we died removes this directory too.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-lab-bench-watch-'))
  const file = path.join(dir, 'scale.json')
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n')
  const result: ScaleResult = { pairs }
  let up = false
  const teardownSync = () => {
    if (up)
      spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'playbooks/lab.ts'), 'down', '--inventory', file], {
        cwd: root,
        stdio: 'ignore',
        timeout: 120_000,
      })
    releaseSlots(SLOTS)
    rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', teardownSync)
  let watcher: Watcher | undefined
  try {
    await claimSlots(SLOTS, file, log)
    const inv = loadInventory(file)
    const t = Date.now()
    up = true
    await labUp(inv, { log: (l) => log(`lab: ${l}`) })
    result.labUpMs = Date.now() - t
    const vips = inv.data.pairs.map((p) => ({
      pair: p.name,
      primary: p.primary,
      standby: p.nodes.find((n) => n.name !== p.primary)!.name,
      vip: p.floatingIps![0].address,
    }))
    const serving = async (skip?: string) =>
      (await Promise.all(vips.filter((v) => v.pair !== skip).map((v) => servedBy(v.vip, v.primary, 5000)))).filter((x) => x !== undefined).length
    result.vipsServing = await serving()
    log(`scale: ${pairs} pairs up in ${(result.labUpMs / 1000).toFixed(1)} s, ${result.vipsServing}/${pairs} VIPs answer as their primary`)
    const missing = watcherMissing()
    if (missing) {
      result.skipped = missing
      return finish(result, true)
    }

    const names = new Set(vips.map((v) => v.pair))
    /** A watcher of every pair, past its start-up work: what is measured is the steady state. */
    const started = async (checkout?: string) => {
      const since = Date.now()
      const w = Watcher.start(file, checkout)
      const allStarted = () =>
        w.events.some((e) => e.event === 'started' && !e.pair) || [...names].every((n) => w.events.some((e) => e.event === 'started' && e.pair === n))
      if (!(await w.waitEvent(() => allStarted(), since, 60_000))) {
        await w.stop()
        throw new Error(`the watcher${checkout ? ` of ${checkout}` : ''} did not start every pair within 60 s: ${w.tail()}`)
      }
      await sleep(5000)
      return w
    }
    const cpuOver = async (w: Watcher, windowS: number) => {
      const t1 = treeTicks(w.pid)
      await sleep(windowS * 1000)
      const ticks = treeTicks(w.pid) - t1
      return { ticks, pct: +((ticks / CLK_TCK / windowS) * 100).toFixed(1) }
    }
    if (compare) {
      const windowS = CPU_WINDOW_S / 2
      result.compare = { baseline: compare.baseline, windowS, rounds: [] }
      for (let r = 0; r < compare.rounds; r++) {
        const round = { ours: 0, baseline: 0, load: +os.loadavg()[0].toFixed(2) }
        // Alternate which goes first: a load that drifts through a round favours neither.
        for (const which of r % 2 ? (['baseline', 'ours'] as const) : (['ours', 'baseline'] as const)) {
          const w = await started(which === 'baseline' ? compare.baseline : undefined)
          try {
            round[which] = (await cpuOver(w, windowS)).pct
          } finally {
            await w.stop()
          }
        }
        result.compare.rounds.push(round)
        log(`scale: round ${r + 1}: watcher CPU ${round.ours}% (this checkout) vs ${round.baseline}% (${compare.baseline}), load ${round.load}`)
      }
    }
    watcher = await started()
    const c = await cpuOver(watcher, CPU_WINDOW_S)
    result.cpu = { windowS: CPU_WINDOW_S, ticks: c.ticks, pctOfOneCore: c.pct }
    log(`scale: watcher CPU ${result.cpu.pctOfOneCore}% of one core over ${CPU_WINDOW_S} s`)

    const target = vips[Math.floor(pairs / 2)]
    const client = firstAnswerFrom(target.vip, target.standby, 30_000)
    const t0 = Date.now()
    await labFault(inv, 'isolate', target.primary)
    const [served, confirmed] = await Promise.all([client.first, watcher.waitEvent((e) => e.event === 'confirmed' && e.pair === target.pair, t0, 30_000)])
    client.stop()
    // The takeover's own end, so its events (below) show where the time went.
    await watcher.waitEvent((e) => e.event.startsWith('takeover-') && e.event !== 'takeover-started' && e.pair === target.pair, t0, 30_000)
    const others = await serving(target.pair)
    result.takeover = {
      pair: target.pair,
      detectionMs: confirmed ? confirmed.ms - t0 : null,
      servingMs: served === undefined ? null : served - t0,
      otherPairsServing: others,
      otherTakeovers: watcher.events.filter((e) => e.event === 'takeover-started' && e.pair !== target.pair).length,
      events: watcher.events.filter((e) => e.ms >= t0 && e.pair === target.pair).map((e) => ({ ...e, ms: e.ms - t0 })),
    }
    log(
      `scale: ${target.pair} link cut: detection ${result.takeover.detectionMs} ms, fault->serving ${result.takeover.servingMs} ms; other pairs serving ${others}/${pairs - 1}`,
    )
    return finish(result, result.takeover.servingMs !== null && others === pairs - 1 && result.takeover.otherTakeovers === 0)
  } catch (e) {
    result.error = (e as Error).message
    return finish(result, false)
  } finally {
    await watcher?.stop()
    if (up) await labDown(loadInventory(file)).catch((e) => log(`lab down: ${(e as Error).message}`))
    up = false
    process.off('exit', teardownSync)
    teardownSync()
  }
}

function finish(r: ScaleResult, ok: boolean) {
  const lines = [`scale: ${r.pairs} pairs in one lab (${SUBNET}), one watcher`]
  if (r.labUpMs !== undefined) lines.push(`  lab up ${(r.labUpMs / 1000).toFixed(1)} s, ${r.vipsServing}/${r.pairs} VIPs answer as their primary`)
  for (const [i, x] of (r.compare?.rounds ?? []).entries())
    lines.push(
      `  round ${i + 1}: watcher CPU ${x.ours}% vs baseline ${x.baseline}% (${(x.ours / x.baseline).toFixed(2)}x) over ${r.compare!.windowS} s each, load ${x.load}`,
    )
  if (r.cpu) lines.push(`  watcher CPU ${r.cpu.pctOfOneCore}% of one core (${r.cpu.ticks} ticks over ${r.cpu.windowS} s, process tree)`)
  if (r.takeover)
    lines.push(
      `  link cut of ${r.takeover.pair}: detection ${r.takeover.detectionMs ?? 'missed'} ms, fault->serving ${r.takeover.servingMs ?? 'missed'} ms; other pairs serving ${r.takeover.otherPairsServing}/${r.pairs - 1}, other takeovers ${r.takeover.otherTakeovers}`,
    )
  if (r.skipped) lines.push(`  watcher: skipped: ${r.skipped}`)
  if (r.error) lines.push(`  failed: ${r.error}`)
  return { ok, text: lines.join('\n'), result: r }
}
