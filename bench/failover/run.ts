// bench/failover: hapair against keepalived (default timers) in the same lab and the same run,
// every ratio taken between figures from the same instrument: a client outside both nodes
// polling the floating IP every 5 ms, timing the gap from the old node's last answer to the new
// node's first. Usage:
//   node --import tsx bench/failover/run.ts [--runs 10] [--keepalived-runs 5] [--unplanned-runs 5] [--out FILE]
// Planned:   hapair switchover (the failover playbook, both nodes up)  vs  keepalived handover
//            (the master's keepalived stopped: it sends priority 0 and the backup takes over).
// Unplanned: hapair failover (the active node's link cut, then the failover playbook run at
//            once: it finds the node unreachable and fences it, lab power-off)  vs  keepalived
//            takeover (the master's link cut; the backup notices three missed adverts).
// hapair's own RTO (first mutating step -> every check answers through the VIP) and the whole
// command are reported beside them, never divided by a client-observed figure.
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { spawnSync } from 'node:child_process'
import { minimist } from 'zx'
import { httpBody, startTestLab, type TestLab } from '../../test/helpers/lab.ts'
import { json, playbook } from '../../test/helpers/playbook.ts'
import { labFault } from '../../lib/lab/index.ts'
import { intToIp, ipToInt } from '../../lib/lab/plan.ts'

const args = minimist(process.argv.slice(2), { default: { runs: 10, 'keepalived-runs': 5, 'unplanned-runs': 5 } })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}
const median = (xs: number[]) => pct(xs, 50)

const get = (host: string) => httpBody(host, 8080, 200)

/** Polls host until it answers `want`; returns the ms it took, or -1 after limitMs. */
async function until(host: string, want: string, limitMs: number, everyMs = 5): Promise<number> {
  const t0 = performance.now()
  while (performance.now() - t0 < limitMs) {
    if ((await get(host)) === want) return performance.now() - t0
    await sleep(everyMs)
  }
  return -1
}

/**
 * A client polling the VIP every 5 ms. The gap is from the last answer of the old node to the
 * first answer of the new one; end() keeps polling (up to 10 s) until the new node has answered,
 * so a gap still open when the playbook exits is counted, not dropped.
 */
function poller(host: string) {
  let stop = false
  let lastOld = 0
  let firstNew = 0
  let from = ''
  let to = ''
  const done = (async () => {
    while (!stop || (to && !firstNew)) {
      const b = await get(host)
      const now = performance.now()
      if (b.startsWith('node-')) {
        if (!from) from = b
        if (b === from) lastOld = now
        else if (!firstNew) firstNew = now
      }
      await sleep(5)
    }
  })()
  return {
    async end(newNode: string) {
      to = newNode
      stop = true
      await Promise.race([done, sleep(10000)])
      return firstNew && lastOld ? firstNew - lastOld : NaN
    },
  }
}

const stats = (xs: number[]) => ({ median: median(xs), p95: pct(xs, 95) })

/** Planned switchovers, alternating direction: the client's gap, the playbook's RTO and the whole command. */
async function benchHapair(lab: TestLab, runs: number) {
  const vip = lab.inv.data.pairs[0].floatingIps![0].address
  const rto: number[] = []
  const wall: number[] = []
  const gap: number[] = []
  for (let i = 0; i < runs; i++) {
    const p = poller(vip)
    await sleep(50)
    const r = await playbook('failover', ['--inventory', lab.file, '--yes', '--json'])
    if (r.code !== 0) throw new Error(`failover ${i} failed: ${r.stdout}${r.stderr}`)
    const j = json(r)
    const g = Math.round(await p.end(j.to))
    rto.push(j.rtoMs)
    wall.push(r.ms)
    gap.push(g)
    process.stderr.write(`hapair planned ${i + 1}/${runs}: ${j.from} -> ${j.to} client gap ${g} ms, rto ${j.rtoMs} ms, wall ${r.ms} ms\n`)
  }
  return { runs, clientGapMs: stats(gap), rtoMs: stats(rto), wallMs: stats(wall), raw: { gap, rto, wall } }
}

/** Unplanned: node-a (active) loses its link; the failover playbook is started at once and must fence it. */
async function benchHapairUnplanned(lab: TestLab, runs: number) {
  const vip = lab.inv.data.pairs[0].floatingIps![0].address
  const gap: number[] = []
  const wall: number[] = []
  for (let i = 0; i < runs; i++) {
    if ((await until(vip, 'node-a', 5000)) < 0) throw new Error('node-a is not serving the VIP before the run')
    const p = poller(vip)
    await sleep(50)
    await labFault(lab.inv, 'isolate', 'node-a')
    const r = await playbook('failover', ['--inventory', lab.file, '--yes', '--json'])
    if (r.code !== 0) throw new Error(`unplanned failover ${i} failed: ${r.stdout}${r.stderr}`)
    const j = json(r)
    const g = Math.round(await p.end(j.to))
    gap.push(g)
    wall.push(r.ms)
    process.stderr.write(
      `hapair unplanned ${i + 1}/${runs}: client gap ${g} ms, wall ${r.ms} ms, fence: ${j.steps.find((s: any) => s.name === 'fence')?.detail}\n`,
    )
    // Back to node-a: powered on and linked again (it comes back holding nothing), then a planned switch.
    await labFault(lab.inv, 'heal', 'node-a')
    await labFault(lab.inv, 'start', 'node-a')
    const back = await playbook('failover', ['--inventory', lab.file, '--yes', '--json', '--to', 'node-a'])
    if (back.code !== 0) throw new Error(`switching back to node-a failed: ${back.stdout}${back.stderr}`)
  }
  return { runs, clientGapMs: stats(gap), wallMs: stats(wall), raw: { gap, wall } }
}

function keepalivedConf(node: string, priority: number, vip: string, prefix: number): string {
  // Only what the comparison needs; every timer is keepalived's default (advert_int 1).
  return `global_defs {\n  router_id ${node}\n}\nvrrp_instance VI_BENCH {\n  state BACKUP\n  interface eth0\n  virtual_router_id 77\n  priority ${priority}\n  virtual_ipaddress {\n    ${vip}/${prefix} dev eth0\n  }\n}\n`
}

const KEEPALIVED = ['keepalived', '-f', '/var/lib/lab/keepalived.conf', '-P', '-p', '/run/keepalived.pid', '-r', '/run/keepalived-vrrp.pid', '-l']
// Waits for each process to exit: a keepalived started while the old one still shuts down finds its pid file and quits.
const STOP_KEEPALIVED =
  'for f in /run/keepalived.pid /run/keepalived-vrrp.pid; do [ -f "$f" ] || continue; p=$(cat "$f"); kill "$p" 2>/dev/null; i=0; ' +
  'while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; done; true'

async function benchKeepalived(lab: TestLab, runs: number) {
  const base = lab.inv.data.pairs[0].floatingIps![0].address
  const kvip = intToIp(ipToInt(base) + 1)
  const prefix = Number(lab.inv.data.lab!.subnet.split('/')[1])
  const nodes = [
    ['node-a', 150],
    ['node-b', 100],
  ] as const
  const start = async (n: string) => {
    const r = await lab.exec(n, KEEPALIVED)
    if (r.code !== 0) throw new Error(`keepalived on ${n}: ${r.stderr}`)
  }
  for (const [n, prio] of nodes) {
    // hapair's fence stopped web on the standby; keepalived moves only an address, so the
    // service must already run on both nodes (that is how keepalived pairs are deployed).
    await lab.exec(n, ['/var/lib/lab/bin/svc', 'start', 'web'])
    await lab.exec(n, ['sh', '-c', 'cat > /var/lib/lab/keepalived.conf'], { input: keepalivedConf(n, prio, kvip, prefix) })
    // Daemonises; pid files in the node's private /run, so we stop exactly the processes we started.
    await start(n)
  }
  const planned: number[] = []
  const unplanned: number[] = []
  let bothHeld = 0
  /** The master node-a answering on the address, adverts settled, as a steady state would be. */
  const steady = async () => {
    if ((await until(kvip, 'node-a', 15000)) < 0) throw new Error('keepalived master node-a never answered on the VIP')
    await sleep(1500)
  }
  try {
    for (let i = 0; i < runs; i++) {
      // Planned: stop the master's keepalived (it sends priority 0: the backup takes over at once).
      await steady()
      let p = poller(kvip)
      await sleep(50)
      await lab.exec('node-a', ['sh', '-c', STOP_KEEPALIVED])
      const g1 = Math.round(await p.end('node-b'))
      await start('node-a') // preempts back to node-a
      // Unplanned: cut the master's link.
      await steady()
      p = poller(kvip)
      await sleep(50)
      await labFault(lab.inv, 'isolate', 'node-a')
      const g2 = Math.round(await p.end('node-b'))
      if ((await lab.holders(kvip)).length > 1) bothHeld++
      await labFault(lab.inv, 'heal', 'node-a')
      if (Number.isNaN(g1) || Number.isNaN(g2)) throw new Error(`keepalived run ${i}: the client never saw node-b (${g1}, ${g2})`)
      planned.push(g1)
      unplanned.push(g2)
      process.stderr.write(`keepalived ${i + 1}/${runs}: planned handover gap ${g1} ms, takeover after link cut gap ${g2} ms\n`)
    }
  } finally {
    for (const [n] of nodes) await lab.exec(n, ['sh', '-c', STOP_KEEPALIVED])
  }
  return { runs, plannedGapMs: stats(planned), unplannedGapMs: stats(unplanned), bothHeldWhileIsolated: bothHeld, raw: { planned, unplanned } }
}

spawnSync(process.execPath, ['scripts/setup.mjs', 'keepalived'], { stdio: 'inherit' })
const lab = await startTestLab()
try {
  const load = () => os.loadavg()[0].toFixed(1)
  const loadBefore = load()
  const hapair = await benchHapair(lab, Number(args.runs))
  // An even run count ends on node-a; the unplanned runs start there and come back there.
  if (Number(args.runs) % 2) await playbook('failover', ['--inventory', lab.file, '--yes', '--to', 'node-a'])
  const hapairUnplanned = await benchHapairUnplanned(lab, Number(args['unplanned-runs']))
  // keepalived on a second address of the same lab.
  const keepalived = await benchKeepalived(lab, Number(args['keepalived-runs']))
  const ratio = (a: number, b: number) => +(a / b).toFixed(1)
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores`,
    loadAverage: { before: loadBefore, after: load() },
    instrument: 'client outside both nodes polling the floating IP every 5 ms: last answer from the old node -> first from the new',
    planned: {
      hapairSwitchover: hapair.clientGapMs,
      keepalivedHandover: keepalived.plannedGapMs,
      keepalivedOverHapair: ratio(keepalived.plannedGapMs.median, hapair.clientGapMs.median),
    },
    unplanned: {
      hapairFailover: hapairUnplanned.clientGapMs,
      keepalivedTakeover: keepalived.unplannedGapMs,
      keepalivedOverHapair: ratio(keepalived.unplannedGapMs.median, hapairUnplanned.clientGapMs.median),
    },
    hapairOwnTimers: { rtoMs: hapair.rtoMs, plannedWallMs: hapair.wallMs, unplannedWallMs: hapairUnplanned.wallMs },
    targets: { rtoMedianUnder300: hapair.rtoMs.median < 300, wallMedianUnder1500: hapair.wallMs.median < 1500 },
    keepalivedBothHeldWhileIsolated: keepalived.bothHeldWhileIsolated,
    raw: { hapair: hapair.raw, hapairUnplanned: hapairUnplanned.raw, keepalived: keepalived.raw },
  }
  const text = JSON.stringify(result, null, 2)
  console.log(text)
  if (args.out) writeFileSync(args.out, text + '\n')
} finally {
  await lab.down()
}
