// bench/failover: planned switchovers with hapair vs keepalived's takeover (default timers),
// in the same lab, in the same run. Usage:
//   node --import tsx bench/failover/run.ts [--runs 20] [--keepalived-runs 5] [--out FILE]
// RTO (hapair) = first mutating step -> every declared check answers through the VIP as the new
// node (the playbook's own rtoMs), cross-checked by an outside client polling the VIP every 5 ms.
// Takeover (keepalived) = the master's link is cut -> the VIP answers as the backup.
import { writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import minimist from 'minimist'
import { httpBody, startTestLab, type TestLab } from '../../test/helpers/lab.ts'
import { json, playbook } from '../../test/helpers/playbook.ts'
import { labFault } from '../../lib/lab/index.ts'
import { intToIp, ipToInt } from '../../lib/lab/plan.ts'

const args = minimist(process.argv.slice(2), { default: { runs: 20, 'keepalived-runs': 5 } })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] }
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

async function benchHapair(lab: TestLab, runs: number) {
  const vip = lab.inv.data.pairs[0].floatingIps![0].address
  const rto: number[] = []
  const wall: number[] = []
  const outage: number[] = []
  for (let i = 0; i < runs; i++) {
    const p = poller(vip)
    await sleep(50)
    const r = await playbook('failover', ['--inventory', lab.file, '--yes', '--json'])
    if (r.code !== 0) throw new Error(`failover ${i} failed: ${r.stdout}${r.stderr}`)
    const j = json(r)
    const gap = await p.end(j.to)
    rto.push(j.rtoMs)
    wall.push(r.ms)
    outage.push(Math.round(gap))
    process.stderr.write(`hapair ${i + 1}/${runs}: ${j.from} -> ${j.to} rto ${j.rtoMs} ms, wall ${r.ms} ms, client gap ${Math.round(gap)} ms\n`)
  }
  return { runs, rtoMs: { median: median(rto), p95: pct(rto, 95) }, wallMs: { median: median(wall), p95: pct(wall, 95) }, clientGapMs: { median: median(outage), p95: pct(outage, 95) }, raw: { rto, wall, outage } }
}

function keepalivedConf(node: string, priority: number, vip: string, prefix: number): string {
  // Only what the comparison needs; every timer is keepalived's default (advert_int 1).
  return `global_defs {\n  router_id ${node}\n}\nvrrp_instance VI_BENCH {\n  state BACKUP\n  interface eth0\n  virtual_router_id 77\n  priority ${priority}\n  virtual_ipaddress {\n    ${vip}/${prefix} dev eth0\n  }\n}\n`
}

async function benchKeepalived(lab: TestLab, runs: number) {
  const base = lab.inv.data.pairs[0].floatingIps![0].address
  const kvip = intToIp(ipToInt(base) + 1)
  const prefix = Number(lab.inv.data.lab!.subnet.split('/')[1])
  const nodes = [['node-a', 150], ['node-b', 100]] as const
  for (const [n, prio] of nodes) {
    // hapair's fence stopped web on the standby; keepalived moves only an address, so the
    // service must already run on both nodes (that is how keepalived pairs are deployed).
    await lab.exec(n, ['/var/lib/lab/bin/svc', 'start', 'web'])
    await lab.exec(n, ['sh', '-c', 'cat > /var/lib/lab/keepalived.conf'], { input: keepalivedConf(n, prio, kvip, prefix) })
    // Daemonises; pid files in the node's private /run, so we stop exactly the processes we started.
    const r = await lab.exec(n, ['keepalived', '-f', '/var/lib/lab/keepalived.conf', '-P', '-p', '/run/keepalived.pid', '-r', '/run/keepalived-vrrp.pid', '-l'])
    if (r.code !== 0) throw new Error(`keepalived on ${n}: ${r.stderr}`)
  }
  const takeover: number[] = []
  let bothHeld = 0
  try {
    for (let i = 0; i < runs; i++) {
      if ((await until(kvip, 'node-a', 15000)) < 0) throw new Error('keepalived master node-a never answered on the VIP')
      await sleep(1500) // let adverts settle, as a steady state would be
      await labFault(lab.inv, 'isolate', 'node-a')
      const ms = await until(kvip, 'node-b', 15000)
      if ((await lab.holders(kvip)).length > 1) bothHeld++
      await labFault(lab.inv, 'heal', 'node-a')
      if (ms < 0) throw new Error('keepalived backup never took over within 15 s')
      takeover.push(Math.round(ms))
      process.stderr.write(`keepalived ${i + 1}/${runs}: takeover ${Math.round(ms)} ms\n`)
    }
  } finally {
    for (const [n] of nodes) await lab.exec(n, ['sh', '-c', 'for f in /run/keepalived.pid /run/keepalived-vrrp.pid; do [ -f "$f" ] && kill "$(cat "$f")"; done; true'])
  }
  return { runs, takeoverMs: { median: median(takeover), p95: pct(takeover, 95) }, bothHeldWhileIsolated: bothHeld, raw: takeover }
}

spawnSync(process.execPath, ['scripts/setup.mjs', 'keepalived'], { stdio: 'inherit' })
const lab = await startTestLab()
try {
  const hapair = await benchHapair(lab, Number(args.runs))
  // Back on node-a (even run count ends there), then keepalived on a second address of the same lab.
  const keepalived = await benchKeepalived(lab, Number(args['keepalived-runs']))
  const result = {
    date: new Date().toISOString(), machine: `${(await import('node:os')).cpus().length} cores`, hapair, keepalived,
    ratio: { keepalivedTakeoverOverHapairRto: +(keepalived.takeoverMs.median / hapair.rtoMs.median).toFixed(1), keepalivedTakeoverOverHapairWall: +(keepalived.takeoverMs.median / hapair.wallMs.median).toFixed(2) },
    targets: { rtoMedianUnder300: hapair.rtoMs.median < 300, wallMedianUnder1500: hapair.wallMs.median < 1500 },
  }
  const text = JSON.stringify(result, null, 2)
  console.log(text)
  if (args.out) writeFileSync(args.out, text + '\n')
} finally {
  await lab.down()
}
