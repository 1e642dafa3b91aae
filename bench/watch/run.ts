// bench/watch (issue 10): unplanned failover, side by side in one lab and one run: hapair's
// watcher, keepalived with default timers, keepalived VRRPv3 at 0.1 s adverts. Usage:
//   node --import tsx bench/watch/run.ts [--runs 10] [--soak-s 300] [--only hapair,keepalived-default,keepalived-tuned]
//     [--faults link,power,pause] [--unicast] [--fencing lease] [--baseline CHECKOUT] [--json FILE]
//   node --import tsx bench/watch/run.ts --scale 20 [--baseline CHECKOUT [--rounds 3]] [--json FILE]
// Per system x fault: detection (the system's own "node-a is gone") and fault -> serving (an
// outside client polling the VIP every 5 ms first gets node-b), median and p95. Then the soak:
// 20% loss on node-a's link, takeovers and two-holder moments counted (--soak-s 0 skips it).
// --baseline CHECKOUT: another checkout's watcher through the same runs after hapair's, in the same lab.
// --fencing lease: the pair is fenced by lease (1 s, margin 300 ms, renewals every 200 ms) with
// the clock-skew bound at 50 ms (every lab node shares this machine's clock), instead of power.
import { killTrackedSync } from './proc.ts'
import { spawnSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { minimist } from 'zx'
import { labPlan } from '../../lib/lab/plan.ts'
import { startTestLab, type TestLab } from '../../test/helpers/lab.ts'
import { faultTable, soakTable, type SystemResult } from './report.ts'
import { runScale, scaleInventory } from './scale.ts'
import { FAULTS, parseList, runSystem, SETUPS, SYSTEMS, type RunPlan, type SystemName } from './systems.ts'
import type { BenchLab } from './trial.ts'

const log = (line: string) => {
  process.stderr.write(line + '\n')
}

function benchLab(lab: TestLab): BenchLab {
  const plan = labPlan(lab.inv)
  const pair = lab.inv.data.pairs[0]
  const vip = pair.floatingIps?.find((f) => f.driver === 'linux')
  if (!vip) throw new Error(`${lab.file}: pair ${pair.name} has no linux floating IP`)
  const a = plan.nodes.find((n) => n.name === pair.primary)!
  const b = plan.nodes.find((n) => n.pair === pair.name && n !== a)!
  return { testLab: lab, inv: lab.inv, file: lab.file, plan, a, b, vip: vip.address, prefix: vip.prefix ?? 32, log }
}

const args = minimist(process.argv.slice(2), {
  string: ['only', 'faults', 'json', 'baseline', 'fencing'],
  boolean: ['unicast'],
  default: { runs: 10, 'soak-s': 300, only: SYSTEMS.join(','), faults: FAULTS.join(',') },
})
let only: SystemName[], plan: RunPlan
try {
  const unknown = Object.keys(args).filter(
    (k) => !['_', 'runs', 'soak-s', 'only', 'faults', 'json', 'unicast', 'scale', 'baseline', 'rounds', 'fencing'].includes(k),
  )
  if (unknown.length || args._.length)
    throw new Error(
      `unknown option ${unknown
        .map((k) => `--${k}`)
        .concat(args._.map(String))
        .join(' ')}`,
    )
  only = parseList('only', args.only, SYSTEMS)
  plan = {
    faults: parseList('faults', args.faults, FAULTS),
    runs: Number(args.runs),
    soakS: Number(args['soak-s']),
    unicast: args.unicast,
    baseline: args.scale === undefined ? args.baseline : undefined,
  }
  if (!Number.isInteger(plan.runs) || plan.runs < 1) throw new Error(`--runs must be a positive integer (got ${args.runs})`)
  if (!(plan.soakS >= 0)) throw new Error(`--soak-s must be 0 or more seconds (got ${args['soak-s']})`)
  if (args.scale !== undefined) scaleInventory(Number(args.scale))
  if (args.fencing !== undefined && args.fencing !== 'lease' && args.fencing !== 'power') throw new Error(`--fencing: power or lease (got ${args.fencing})`)
} catch (e) {
  console.error(`bench/watch: ${(e as Error).message}`)
  process.exit(2)
}

const write = (result: unknown) => {
  if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n')
}
// A shared machine's load moves every figure here: it goes into the JSON with them.
const machine = { cores: cpus().length, cpu: cpus()[0]?.model, loadAtStart: loadavg().map((x) => +x.toFixed(2)) }
const loadAtEnd = () => loadavg().map((x) => +x.toFixed(2))

if (args.scale !== undefined) {
  const r = await runScale(Number(args.scale), log, args.baseline ? { baseline: args.baseline, rounds: Number(args.rounds ?? 3) } : undefined)
  console.log(r.text)
  write({ date: new Date().toISOString(), machine: { ...machine, loadAtEnd: loadAtEnd() }, scale: r.result })
  process.exit(r.ok ? 0 : 1)
}

if (only.some((s) => s !== 'hapair')) {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../scripts/setup.mjs', import.meta.url)), 'keepalived'], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
const results: Record<string, SystemResult> = {}
const lab = await startTestLab({
  log: (l) => log(`lab: ${l}`),
  mutate:
    args.fencing === 'lease'
      ? (j) => {
          j.pairs[0].fencing = { driver: 'lease', lease: { leaseMs: 1000, marginMs: 300, renewMs: 200 } }
          j.pairs[0].preconditions.maxClockSkewMs = 50
        }
      : undefined,
})
try {
  const bench = benchLab(lab)
  log(
    `lab ${bench.plan.lab}: VIP ${bench.vip}/${bench.prefix}, active ${bench.a.name}, standby ${bench.b.name}; VRRP ${plan.unicast ? 'unicast' : 'multicast'}`,
  )
  for (const name of only) results[name] = await runSystem(name, bench, plan)
  if (plan.baseline) results.baseline = await runSystem('baseline', bench, plan)
} finally {
  killTrackedSync()
  await lab.down()
}
console.log(faultTable(results, plan.faults))
const soak = soakTable(results)
if (soak) console.log(`\n${soak}`)
write({
  date: new Date().toISOString(),
  machine: { ...machine, loadAtEnd: loadAtEnd() },
  options: { ...plan, only, vrrp: plan.unicast ? 'unicast' : 'multicast', fencing: args.fencing ?? 'power' },
  setups: SETUPS,
  results,
})
process.exit(Object.values(results).some((r) => r.error) ? 1 : 0)
