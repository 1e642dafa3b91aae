// bench/follow: the follower (`sync.ts --follow`) against lsyncd (Debian's, its defaults and
// delay = 1) in one lab run, on the same load on node-a: a steady 200 small files/s plus
// 2 MB/s of appends for --seconds, then a 10,000-file burst. For each file: the recovery point,
// from the write's end on node-a to the whole file under its name on node-b (rsync renames it
// into place, so the rename is the moment; node-b's inotify watch, read by a node script there,
// timestamps it; both namespaces share this machine's clock). CPU: the controller process and
// everything run on node-a for it (watcher, rsync, ssh: node-a's sshd accounts for them once
// its sessions end), against lsyncd with its rsync and ssh children.
//   npm run bench:follow [-- --seconds 30 --burst 10000 --json out.json]
import { readFileSync, writeFileSync } from 'node:fs'
import { minimist } from 'zx'
import { labPlan } from '../../lib/lab/index.ts'
import { sshdPid } from '../../lib/lab/node.ts'
import { hostKeyAlias } from '../../lib/sync/pin.ts'
import { startTestLab, type TestLab } from '../../test/helpers/lab.ts'
import { startFollowChild } from '../../test/sync/_follow.ts'

const args = minimist(process.argv.slice(2), { string: ['json', 'only'], default: { seconds: 30, burst: 10000, 'files-per-sec': 200, 'append-mb-per-sec': 2 } })
const SECONDS = Number(args.seconds),
  BURST = Number(args.burst),
  FPS = Number(args['files-per-sec']),
  MBPS = Number(args['append-mb-per-sec'])
const DIR = '/srv/bench'
const TICK = 100 // clock ticks per second (Linux USER_HZ)

// Runs on node-a: the load, each write timed at its close.
const LOAD = `const fs = require('fs'); const [D, FPS, MBPS, dir] = process.argv.slice(1); const end = Date.now() + D * 1000
fs.mkdirSync(dir + '/small', { recursive: true }); fs.mkdirSync(dir + '/logs', { recursive: true })
const chunk = Buffer.alloc(Math.round(MBPS * 1048576 / 10), 120); const out = []; const sizes = {}; let i = 0, a = 0; const t0 = Date.now()
function tick() { const el = Date.now() - t0; if (Date.now() >= end) { process.stdout.write(JSON.stringify(out)); return }
  while (i < Math.floor(el * FPS / 1000)) { const n = 'f' + i; fs.writeFileSync(dir + '/small/' + n, 'x'.repeat(400) + i + '\\n'); out.push(['s', n, Date.now()]); i++ }
  while (a < Math.floor(el / 100)) { const n = 'log' + (a % 4); fs.appendFileSync(dir + '/logs/' + n, chunk); sizes[n] = (sizes[n] || 0) + chunk.length; out.push(['a', n, Date.now(), sizes[n]]); a++ }
  setTimeout(tick, 2) }
tick()`

// Runs on node-b: every name renamed or closed into the two directories, with its size, until the stop file appears.
const OBSERVE = `const fs = require('fs'); const [dir, stop] = process.argv.slice(1); const out = []
fs.mkdirSync(dir + '/small', { recursive: true }); fs.mkdirSync(dir + '/logs', { recursive: true })
for (const sub of ['small', 'logs']) fs.watch(dir + '/' + sub, (ev, name) => { if (!name || name.startsWith('.')) return; const t = Date.now()
  try { out.push([sub, name, t, fs.statSync(dir + '/' + sub + '/' + name).size]) } catch {} })
process.stdout.write('ready\\n')
const h = setInterval(() => { if (fs.existsSync(stop)) { clearInterval(h); process.stdout.write(JSON.stringify(out)); process.exit(0) } }, 100)`

const BURST_SH = `set -e; mkdir -p "$1/burst"; cd "$1/burst"; per=100; n=0; d=0
while [ $n -lt $2 ]; do mkdir -p d$d; f=0; while [ $f -lt $per ] && [ $n -lt $2 ]; do echo "$d $f" > d$d/f$f; f=$((f+1)); n=$((n+1)); done; d=$((d+1)); done`

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const procTicks = (pid: number, children = false) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)
  } catch {
    return NaN
  }
}

interface Row {
  name: string
  files: number
  arrivedFiles: number
  appends: number
  arrivedAppends: number
  rpMs: { median: number; p95: number; p99: number; max: number }
  appendRpMs: { median: number; p95: number; p99: number }
  burstMs: number
  controllerCpuS: number
  nodeCpuS: number
  cpuS: number
}

async function main() {
  const lab = await startTestLab({
    mutate: (j) => {
      j.pairs[0].sync.items = [{ name: 'bench', path: DIR, priority: 10, transport: 'rsync', policy: 'always', mirror: false }]
    },
  })
  const sh = async (node: string, script: string, ...a: string[]) => {
    const r = await lab.exec(node, ['sh', '-c', script, 'sh', ...a], { timeoutMs: 600_000 })
    if (r.code !== 0) throw new Error(`${node}: ${script.slice(0, 60)}: exit ${r.code}: ${r.stderr}`)
    return r.stdout
  }
  const pair = lab.inv.data.pairs[0]
  const b = pair.nodes.find((n) => n.name === 'node-b')!
  const nodeA = labPlan(lab.inv).nodes.find((n) => n.name === 'node-a')!
  const stopFile = `/tmp/hapair-bench-follow-stop-${lab.slot}`
  const rows: Row[] = []
  try {
    // The hop's pin on node-a (a first sync writes it), so lsyncd's ssh checks the same key ours does.
    await sh('node-a', 'mkdir -p "$1"', DIR)
    const fol = startFollowChild(lab.file, ['--timeout', '10'])
    await fol.waitFor((e) => e.event === 'following', 60_000)
    await fol.stop()

    const rsh = `/usr/bin/ssh -F /dev/null -i ${pair.sync!.nodeKeyFile} -o IdentitiesOnly=yes -o HostKeyAlias=${hostKeyAlias(pair, b)} -o UserKnownHostsFile=${pair.sync!.nodeKnownHostsFile} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes`
    const plainRsync = async () => {
      await sh('node-b', 'rm -rf "$1/burst-plain"', DIR)
      const t = Date.now()
      await sh('node-a', 'rsync -a -e "$1" "$2/burst/" "root@$3:$2/burst-plain/"', rsh, DIR, b.address)
      return Date.now() - t
    }

    const contenders: { name: string; start: () => Promise<{ stop: () => Promise<{ controller: number; node: number }> }> }[] = [
      {
        name: 'hapair follow',
        start: async () => {
          const sshd = sshdPid(nodeA)!
          const before = procTicks(sshd, true)
          const f = startFollowChild(lab.file, ['--timeout', '10'])
          await f.waitFor((e) => e.event === 'following', 60_000)
          return {
            stop: async () => {
              const controller = procTicks(f.proc.pid!)
              await f.stop()
              await new Promise((r) => setTimeout(r, 1500)) // its sessions on node-a end and are accounted to sshd
              return { controller: controller / TICK, node: (procTicks(sshd, true) - before) / TICK }
            },
          }
        },
      },
      ...[undefined, 1].map((delay) => ({
        name: `lsyncd ${delay === undefined ? 'defaults (delay 15)' : `delay = ${delay}`}`,
        start: async () => {
          const conf = `settings { logfile = "/var/lib/bench-lsyncd.log", pidfile = "/var/lib/bench-lsyncd.pid", insist = true }
sync { default.rsync, source = "${DIR}/", target = "root@${b.address}:${DIR}/",${delay === undefined ? '' : ` delay = ${delay},`}
  rsync = { archive = true, rsh = "${rsh}" } }\n`
          await lab.exec('node-a', ['sh', '-c', 'cat > /var/lib/bench-lsyncd.conf; rm -f /var/lib/bench-lsyncd.log', 'sh'], { input: conf })
          await sh('node-a', 'lsyncd /var/lib/bench-lsyncd.conf')
          const end = Date.now() + 120_000
          while (!/Startup of .* finished/.test((await lab.exec('node-a', ['cat', '/var/lib/bench-lsyncd.log'])).stdout)) {
            if (Date.now() > end) throw new Error(`lsyncd did not start: ${(await lab.exec('node-a', ['cat', '/var/lib/bench-lsyncd.log'])).stdout}`)
            await new Promise((r) => setTimeout(r, 200))
          }
          const pid = Number((await lab.exec('node-a', ['cat', '/var/lib/bench-lsyncd.pid'])).stdout.trim())
          return {
            stop: async () => {
              const self = procTicks(pid, false)
              await lab.exec('node-a', ['kill', String(pid)])
              // Once it exits its reaped children are in its totals; read them just before.
              const all = procTicks(pid, true)
              await new Promise((r) => setTimeout(r, 500))
              return { controller: self / TICK, node: (Number.isNaN(all) ? self : all - self) / TICK }
            },
          }
        },
      })),
    ]

    for (const c of contenders.filter((x) => !args.only || x.name.includes(args.only))) {
      await sh('node-a', 'rm -rf "$1"; mkdir -p "$1"', DIR)
      await sh('node-b', 'rm -rf "$1"; mkdir -p "$1"', DIR)
      await lab.exec('node-b', ['rm', '-f', stopFile])
      const run = await c.start()
      const obs = lab.exec('node-b', [process.execPath, '-e', OBSERVE, DIR, stopFile], { timeoutMs: 900_000 })
      await new Promise((r) => setTimeout(r, 500))
      console.error(`${c.name}: load for ${SECONDS} s`)
      const load = JSON.parse(
        (await lab.exec('node-a', [process.execPath, '-e', LOAD, String(SECONDS), String(FPS), String(MBPS), DIR], { timeoutMs: 600_000 })).stdout,
      ) as [string, string, number, number?][]
      const t0 = Date.now()
      await sh('node-a', BURST_SH, DIR, String(BURST))
      const made = Date.now()
      let burstMs = NaN
      const small = load.filter((x) => x[0] === 's').length
      const end = made + 90_000
      for (;;) {
        const n = Number(await sh('node-b', 'find "$1/burst" -type f 2>/dev/null | wc -l; true', DIR))
        if (n >= BURST) {
          burstMs = Date.now() - made
          break
        }
        if (Date.now() > end) break
        await new Promise((r) => setTimeout(r, 100))
      }
      // The steady load's files too: all there, or given up on after the wait.
      const smallEnd = Date.now() + 30_000
      while (Number(await sh('node-b', 'ls "$1/small" | wc -l', DIR)) < small && Date.now() < smallEnd) await new Promise((r) => setTimeout(r, 200))
      await lab.exec('node-b', ['touch', stopFile])
      const seen = JSON.parse((await obs).stdout.split('\n')[1] ?? '[]') as [string, string, number, number][]
      const cpu = await run.stop()
      const firstSeen = new Map<string, number>()
      for (const [sub, name, t] of seen) if (sub === 'small' && !firstSeen.has(name)) firstSeen.set(name, t)
      const rp: number[] = []
      for (const [kind, name, t] of load) if (kind === 's' && firstSeen.has(name)) rp.push(firstSeen.get(name)! - t)
      const logSeen = seen.filter((x) => x[0] === 'logs')
      const arp: number[] = []
      for (const [kind, name, t, size] of load) {
        if (kind !== 'a') continue
        const hit = logSeen.find((x) => x[1] === name && x[3] >= size! && x[2] >= t - 5)
        if (hit) arp.push(hit[2] - t)
      }
      const row: Row = {
        name: c.name,
        files: small,
        arrivedFiles: rp.length,
        appends: load.filter((x) => x[0] === 'a').length,
        arrivedAppends: arp.length,
        rpMs: { median: pct(rp, 50), p95: pct(rp, 95), p99: pct(rp, 99), max: Math.max(...rp) },
        appendRpMs: { median: pct(arp, 50), p95: pct(arp, 95), p99: pct(arp, 99) },
        burstMs,
        controllerCpuS: cpu.controller,
        nodeCpuS: cpu.node,
        cpuS: cpu.controller + cpu.node,
      }
      rows.push(row)
      console.error(`${c.name}: ${JSON.stringify(row)} (burst made in ${made - t0} ms)`)
    }
    const plainMs = await plainRsync()
    const f1 = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'not delivered')
    console.log(
      `steady load ${FPS} files/s + ${MBPS} MB/s appends for ${SECONDS} s, then a ${BURST}-file burst; same lab run; recovery point = write on node-a -> whole on node-b`,
    )
    console.log(
      '| contender | files arrived | RP median | RP p95 | RP p99 | RP max | appends RP p95 | burst delivered | CPU controller/self | CPU node-side | CPU total |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${r.arrivedFiles}/${r.files} | ${f1(r.rpMs.median)} | ${f1(r.rpMs.p95)} | ${f1(r.rpMs.p99)} | ${f1(r.rpMs.max)} | ${f1(r.appendRpMs.p95)} | ${f1(r.burstMs)} | ${r.controllerCpuS.toFixed(2)} s | ${r.nodeCpuS.toFixed(2)} s | ${r.cpuS.toFixed(2)} s |`,
      )
    }
    console.log(`plain \`rsync -a\` of the same ${BURST}-file tree, node-a -> node-b: ${f1(plainMs)}`)
    if (args.json)
      writeFileSync(args.json, JSON.stringify({ seconds: SECONDS, burst: BURST, fps: FPS, mbps: MBPS, plainBurstMs: plainMs, rows }, null, 2) + '\n')
    const ours = rows[0]
    return ours.rpMs.p95 < 1000 && ours.arrivedFiles === ours.files ? 0 : 1
  } finally {
    await lab.down()
  }
}

process.exitCode = await main()
