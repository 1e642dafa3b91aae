// bench/startup: how long a command takes from the shell's point of view, the installed bin
// (compiled JavaScript, plain node) beside the checkout's `npx zx playbooks/status.ts` (tsx),
// side by side in one run: every round runs each command once, in turn, so a load spike on this
// machine hits all of them alike. Usage:
//   node --import tsx bench/startup/run.ts [--runs 11] [--no-build] [--baseline CHECKOUT] [--json] [--out FILE]
// --baseline: another checkout's built bin (its `npm run build` done), timed in the same rounds:
//   `hapair status` and `hapair status --help` of both, and their ratio.
// Commands (cwd: the checkout, as a user in a repository would run them):
//   hapair --help, hapair status --help, hapair status --inventory LAB     bin/hapair.mjs -> dist/
//   npx zx playbooks/status.ts --help | --inventory LAB                    .npmrc: --import tsx
//   node --import tsx playbooks/status.ts …                                what the tests spawn
//   node -e 0                                                              node's own start, for scale
// LAB is a lab pair of its own (test/helpers/lab.ts), always taken down. Wall time is measured
// around each spawn; CPU (user+sys of the command and its children) comes from /usr/bin/time
// when it is there, since CPU moves much less than wall when other work shares the machine.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { minimist } from 'zx'
import { startTestLab, type TestLab } from '../../test/helpers/lab.ts'

const args = minimist(process.argv.slice(2), { boolean: ['build', 'json'], string: ['out', 'baseline'], default: { runs: 11, build: true } })
const root = fileURLToPath(new URL('../..', import.meta.url))
const runs = Number(args.runs)
if (!Number.isInteger(runs) || runs < 1) {
  console.error('--runs needs a whole number >= 1')
  process.exit(2)
}

const TARGET_MS = { status: 350, help: 150 }
const baseBin = args.baseline ? path.resolve(String(args.baseline), 'bin/hapair.mjs') : undefined
if (baseBin && !existsSync(path.join(path.dirname(baseBin), '../dist/playbooks/status.js'))) {
  console.error(`--baseline ${args.baseline}: no built bin there (run npm run build in it)`)
  process.exit(2)
}
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hapair-bench-startup-'))
const audit = path.join(tmp, 'audit.jsonl')

interface Case {
  name: string
  kind: 'help' | 'status' | 'node'
  compiled: boolean
  argv: string[]
  ok: number[]
  env?: NodeJS.ProcessEnv
}
interface Sample {
  wall: number
  cpu?: number
}

function cases(lab: string): Case[] {
  const bin = path.join(root, 'bin/hapair.mjs')
  const tsx = [process.execPath, '--import', 'tsx', 'playbooks/status.ts']
  const zx = ['npx', 'zx', 'playbooks/status.ts']
  return [
    { name: 'node -e 0', kind: 'node', compiled: true, argv: [process.execPath, '-e', '0'], ok: [0] },
    { name: 'hapair --help', kind: 'help', compiled: true, argv: [bin, '--help'], ok: [0] },
    { name: 'hapair status --help', kind: 'help', compiled: true, argv: [bin, 'status', '--help'], ok: [0] },
    { name: 'npx zx playbooks/status.ts --help', kind: 'help', compiled: false, argv: [...zx, '--help'], ok: [0] },
    { name: 'node --import tsx playbooks/status.ts --help', kind: 'help', compiled: false, argv: [...tsx, '--help'], ok: [0] },
    // 1 (degraded) is an answer too: the figure is the time to it; anything else is a broken run.
    { name: 'hapair status', kind: 'status', compiled: true, argv: [bin, 'status', '--inventory', lab], ok: [0, 1] },
    // The same without its code cache: what a first run after an install or upgrade costs.
    {
      name: 'hapair status (no code cache)',
      kind: 'status',
      compiled: true,
      argv: [bin, 'status', '--inventory', lab],
      ok: [0, 1],
      env: { HAPAIR_CODE_CACHE: 'off' },
    },
    ...(baseBin
      ? [
          { name: 'baseline: hapair status --help', kind: 'help' as const, compiled: false, argv: [baseBin, 'status', '--help'], ok: [0] },
          { name: 'baseline: hapair status', kind: 'status' as const, compiled: false, argv: [baseBin, 'status', '--inventory', lab], ok: [0, 1] },
        ]
      : []),
    { name: 'npx zx playbooks/status.ts', kind: 'status', compiled: false, argv: [...zx, '--inventory', lab], ok: [0, 1] },
    { name: 'node --import tsx playbooks/status.ts', kind: 'status', compiled: false, argv: [...tsx, '--inventory', lab], ok: [0, 1] },
  ]
}

function once(c: Case): Promise<Sample> {
  const cpuFile = path.join(tmp, 'cpu')
  const argv = TIME ? [TIME, '-q', '-f', '%U %S', '-o', cpuFile, ...c.argv] : c.argv
  // Not npm's NODE_OPTIONS: `npm run bench:startup` passes down the checkout's --import tsx
  // (.npmrc), which would load tsx into every command, node -e 0 and the installed bin too;
  // npx puts it back for `npx zx` itself.
  const { NODE_OPTIONS: _, ...inherited } = process.env
  // The bin's code cache (bin/bundle.mjs) lives in the bench's own directory: the untimed round
  // writes it, the timed rounds use it, as every run after a user's first does.
  const env = { ...inherited, HAPAIR_AUDIT_LOG: audit, NO_COLOR: '1', HAPAIR_CACHE_DIR: path.join(tmp, 'cache'), ...c.env }
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(argv[0], argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const wall = performance.now() - t0
      if (!c.ok.includes(code ?? -1)) return reject(new Error(`${c.name}: exit ${code} (expected ${c.ok.join(' or ')}):\n${out.slice(0, 2000)}`))
      let cpu: number | undefined
      if (TIME) {
        const [u, s] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
        cpu = (u + s) * 1000
      }
      resolve({ wall, cpu })
    })
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const load = () => os.loadavg()[0]

let lab: TestLab | undefined
const started = new Date()
try {
  if (args.build) {
    const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
    if (b.status !== 0) throw new Error('npm run build failed')
  }
  if (!existsSync(path.join(root, 'dist/playbooks/status.js'))) throw new Error('no dist/: run without --no-build (or npm run build)')
  lab = await startTestLab()
  const list = cases(lab.file)
  // One untimed round: the lab's first connections and the page cache are not start-up.
  for (const c of list) await once(c)
  const samples = new Map<Case, Sample[]>(list.map((c) => [c, []]))
  const loads: number[] = [load()]
  for (let r = 0; r < runs; r++) {
    for (const c of list) samples.get(c)!.push(await once(c))
    loads.push(load())
  }

  const rows = list.map((c) => {
    const s = samples.get(c)!
    const cpu = s.every((x) => x.cpu !== undefined) ? median(s.map((x) => x.cpu!)) : undefined
    const target = c.compiled && c.kind !== 'node' && !c.env ? TARGET_MS[c.kind] : undefined
    const wall = median(s.map((x) => x.wall))
    return {
      command: c.name,
      runs: s.length,
      medianWallMs: Math.round(wall),
      minWallMs: Math.round(Math.min(...s.map((x) => x.wall))),
      medianCpuMs: cpu === undefined ? undefined : Math.round(cpu),
      targetMs: target,
      met: target === undefined ? undefined : wall < target,
    }
  })
  // The same command both ways, divided within this run: the figure a loaded machine moves least.
  const wallOf = (name: string) => rows.find((r) => r.command === name)!.medianWallMs
  const ratios = {
    statusHelp: wallOf('hapair status --help') / wallOf('npx zx playbooks/status.ts --help'),
    status: wallOf('hapair status') / wallOf('npx zx playbooks/status.ts'),
    ...(baseBin
      ? {
          statusHelpToBaseline: wallOf('hapair status --help') / wallOf('baseline: hapair status --help'),
          statusToBaseline: wallOf('hapair status') / wallOf('baseline: hapair status'),
        }
      : {}),
  }
  const report = {
    started: started.toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavg1: { min: Math.min(...loads), max: Math.max(...loads) },
    runs,
    rows,
    ratios,
  }
  if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n')
  if (args.json) console.log(JSON.stringify(report, null, 2))
  else {
    const w = Math.max(...rows.map((r) => r.command.length))
    console.log(
      `start-up, median of ${runs} runs each (node ${process.version}, ${os.cpus().length} cpus, 1-min load ${report.loadavg1.min.toFixed(1)}..${report.loadavg1.max.toFixed(1)})`,
    )
    console.log(`${'command'.padEnd(w)}  wall ms  (min)  cpu ms  target`)
    for (const r of rows) {
      const t = r.targetMs === undefined ? '' : `< ${r.targetMs} ${r.met ? 'met' : 'MISSED'}`
      console.log(
        `${r.command.padEnd(w)}  ${String(r.medianWallMs).padStart(7)}  ${`(${r.minWallMs})`.padStart(5)}  ${String(r.medianCpuMs ?? '-').padStart(6)}  ${t}`,
      )
    }
    console.log(`hapair / npx zx, same run: status --help ${ratios.statusHelp.toFixed(2)}, status ${ratios.status.toFixed(2)}`)
    if (ratios.statusToBaseline !== undefined)
      console.log(`hapair / baseline, same run: status --help ${ratios.statusHelpToBaseline!.toFixed(2)}, status ${ratios.statusToBaseline.toFixed(2)}`)
    if (report.loadavg1.max > os.cpus().length)
      console.log(
        `note: the 1-min load reached ${report.loadavg1.max.toFixed(1)} on ${os.cpus().length} cpus: other work shared the machine; compare the cpu column`,
      )
  }
} finally {
  await lab?.down()
  rmSync(tmp, { recursive: true, force: true })
}
