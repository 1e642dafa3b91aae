// The faults the world makes, on a real lab: partitions and loss (nft in the bridge namespace),
// a hung node (SIGSTOP), heal-all, and the invariant sampler that watches for split brain.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { labFault, labHealAll, labLoss, labPartition, labPause, labPlan, labResume, labStatus, SVC, formatLabStatus } from '../../lib/lab/index.ts'
import { listNamespaces, nsExists } from '../../lib/lab/net.ts'
import { nsPids } from '../../lib/lab/node.ts'
import { procState } from '../../lib/lab/pause.ts'
import { run } from '../../lib/lab/proc.ts'
import { httpBody, startTestLab, type TestLab } from '../helpers/lab.ts'
import { startInvariant } from '../helpers/invariant.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
let lab: TestLab

const sh = (cmd: string, args: string[]) => run(cmd, args, { cwd: root, env: { ...process.env, npm_config_loglevel: 'error' } })
const cli = (...args: string[]) => sh(process.execPath, ['--import', 'tsx', 'playbooks/lab.ts', ...args, '--inventory', lab.file])
const addr = (node: string) => lab.inv.data.pairs[0].nodes.find((n) => n.name === node)!.address
const vip = () => lab.inv.data.pairs[0].floatingIps![0].address
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Echo replies `from` (the controller or a node) got back from `to`. */
async function pings(from: string, to: string, count = 2, interval = '0.1', wait = '1'): Promise<number> {
  const argv = ['ping', '-n', '-q', '-c', String(count), '-i', interval, '-W', wait, to]
  const r = from === 'controller' ? await sh(argv[0], argv.slice(1)) : await lab.exec(from, argv)
  const m = /(\d+) (?:packets )?received/.exec(r.stdout)
  assert.ok(m, `ping ${to} from ${from}: ${r.stdout}${r.stderr}`)
  return Number(m![1])
}
/** Echo requests the node's kernel has received so far (/proc/net/snmp Icmp InEchos). */
async function inEchos(node: string): Promise<number> {
  const lines = (await lab.exec(node, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'))
  const [head, vals] = lines.map((l) => l.split(/\s+/))
  return Number(vals[head.indexOf('InEchos')])
}
const sshTrue = (node: string) => sh('ssh', ['-o', 'ConnectTimeout=1', ...lab.sshArgs(node), 'true'])

test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})
// Each test starts from a healthy lab, whatever the one before left behind.
test.after.each(async () => {
  if (lab && nsExists(labPlan(lab.inv).bridgeNs)) await labHealAll(lab.inv)
})

test('partition controller <-> node-a: the controller loses node-a, node-b still reaches it', async () => {
  assert.match(await labPartition(lab.inv, 'controller', 'node-a'), /controller <-> node-a/)
  assert.is(await pings('controller', addr('node-a')), 0)
  assert.is((await sshTrue('node-a')).code, 255)
  assert.is(await pings('node-b', addr('node-a')), 2)
  assert.is(await pings('controller', addr('node-b')), 2)
  const s = await labStatus(lab.inv)
  assert.equal(
    s.faults.partitions.map(({ a, b, oneWay }) => [a, b, oneWay]),
    [['controller', 'node-a', false]],
  )
  assert.ok(s.faults.partitions[0].dropped! >= 2, 'the counters saw the dropped frames')
  assert.match(formatLabStatus(s), /faults: partition controller <-> node-a/)
  await labHealAll(lab.inv)
  assert.is(await pings('controller', addr('node-a')), 2)
})

test('partition node-a node-b: they lose each other (the floating IP too), the controller reaches both', async () => {
  await labPartition(lab.inv, 'node-a', 'node-b')
  assert.is(await pings('node-a', addr('node-b')), 0)
  assert.is(await pings('node-b', addr('node-a')), 0)
  assert.is(await pings('node-b', vip()), 0, 'the VIP on node-a is behind the partition as well')
  assert.is(await httpBody(addr('node-a'), 8080), 'node-a')
  assert.is(await httpBody(addr('node-b'), 8080), 'node-b')
  assert.is(await pings('controller', vip()), 2)
})

test("one-way partition node-a -> node-b: node-a cannot reach node-b, node-b's packets still reach node-a", async () => {
  // Warm both neighbour caches: a one-way cut drops ARP replies too, and a node that cannot
  // resolve its peer sends nothing for the peer to count.
  assert.is(await pings('node-b', addr('node-a'), 1), 1)
  await labPartition(lab.inv, 'node-a', 'node-b', { oneWay: true })
  const [a0, b0] = [await inEchos('node-a'), await inEchos('node-b')]
  assert.is(await pings('node-b', addr('node-a'), 3), 0, 'the replies come back the cut way')
  assert.is(await pings('node-a', addr('node-b'), 3), 0)
  assert.ok((await inEchos('node-a')) - a0 >= 3, "node-b's echo requests arrived at node-a")
  assert.is((await inEchos('node-b')) - b0, 0, "none of node-a's arrived at node-b")
  assert.is(await pings('controller', addr('node-a')), 2)
  const s = await labStatus(lab.inv)
  assert.equal(
    s.faults.partitions.map(({ a, b, oneWay }) => [a, b, oneWay]),
    [['node-a', 'node-b', true]],
  )
})

test('loss 100 drops everything, loss 30 a share of it, loss 0 restores the link', async () => {
  await labLoss(lab.inv, 'node-a', 100)
  assert.is(await pings('controller', addr('node-a'), 20, '0.005'), 0)
  await labLoss(lab.inv, 'node-a', 30)
  // 30% each way: an echo round trip survives with 0.7 * 0.7, so about 51% are lost.
  const got = await pings('controller', addr('node-a'), 200, '0.005')
  const lost = (200 - got) / 200
  assert.ok(lost > 0.25 && lost < 0.75, `lost ${(lost * 100).toFixed(1)}% of 200 echoes`)
  const s = await labStatus(lab.inv)
  assert.equal(
    s.faults.loss.map(({ host, pct }) => [host, pct]),
    [['node-a', 30]],
  )
  assert.ok(s.faults.loss[0].dropped > 40, `counted ${s.faults.loss[0].dropped} drops`)
  await labLoss(lab.inv, 'node-a', 0)
  assert.is(await pings('controller', addr('node-a'), 20, '0.005'), 20)
  assert.equal((await labStatus(lab.inv)).faults.loss, [])
})

test('pause hangs the node: HTTP times out while ping answers; resume brings it back', async () => {
  assert.match(await labPause(lab.inv, 'node-b'), /node-b paused/)
  assert.ok(nsPids(labPlan(lab.inv).nodes[1].ns).every((p) => ['T', 'Z', undefined].includes(procState(p))))
  assert.is(await httpBody(addr('node-b'), 8080, 800), 'timeout')
  assert.is(await pings('controller', addr('node-b')), 2)
  const s = await labStatus(lab.inv)
  assert.equal([s.nodes[1].paused, s.nodes[1].power, s.faults.paused], [true, 'on', ['node-b']])
  assert.match(await labResume(lab.inv, 'node-b'), /node-b resumed/)
  assert.is(await httpBody(addr('node-b'), 8080), 'node-b')
  assert.is((await labStatus(lab.inv)).nodes[1].paused, false)
})

test('heal with no node clears every fault at once (from the CLI)', async () => {
  await labPartition(lab.inv, 'controller', 'node-b')
  await labLoss(lab.inv, 'node-a', 100)
  await labPause(lab.inv, 'node-b')
  await labFault(lab.inv, 'isolate', 'node-a')
  const r = await cli('fault', 'heal')
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /removed partition controller <-> node-b, removed loss node-a 100%, replugged node-a, resumed node-b/)
  assert.is(await httpBody(addr('node-a'), 8080), 'node-a')
  assert.is(await httpBody(addr('node-b'), 8080), 'node-b')
  const s = await labStatus(lab.inv)
  assert.equal(s.faults, { partitions: [], loss: [], paused: [] })
  assert.equal(
    s.nodes.map((n) => n.link),
    ['up', 'up'],
  )
})

test('CLI: partition --one-way works; unknown hosts and bad percents exit 2', async () => {
  const ok = await cli('fault', 'partition', 'controller', 'node-b', '--one-way', '--json')
  assert.is(ok.code, 0, ok.stderr)
  assert.equal(JSON.parse(ok.stdout).oneWay, true)
  const [st, badNode, badHost, badPct, noPct, stray] = await Promise.all([
    cli('status'),
    cli('fault', 'pause', 'node-q'),
    cli('fault', 'partition', 'node-a', 'node-q'),
    cli('fault', 'loss', 'node-a', '101'),
    cli('fault', 'loss', 'node-a'),
    cli('fault', 'loss', 'node-a', '10', '--one-way'),
  ])
  assert.match(st.stdout, /faults: partition controller -> node-b/)
  for (const [r, re] of [
    [badNode, /no node named "node-q"/],
    [badHost, /no host named "node-q"/],
    [badPct, /0\.\.100/],
    [noPct, /usage: lab fault loss NODE PCT/],
    [stray, /--one-way/],
  ] as const) {
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, re)
  }
  assert.equal((await labStatus(lab.inv)).faults.loss, [], 'a refused fault changed nothing')
})

test('invariant sampler: nothing on a healthy lab; a planted VIP and a second (paused) singleton are caught', async () => {
  const healthy = startInvariant(lab)
  await healthy.ready
  await sleep(600)
  const h = await healthy.stop()
  assert.equal(h.violations, [])
  assert.ok(h.samples >= 20, `only ${h.samples} samples in ${h.durationMs} ms`)
  assert.ok(h.maxGapMs < 300, `a ${h.maxGapMs} ms gap`)

  const inv = startInvariant(lab)
  await inv.ready
  assert.is((await lab.exec('node-b', ['ip', 'addr', 'add', `${vip()}/24`, 'dev', 'eth0'])).code, 0)
  await sleep(150)
  assert.is((await lab.exec('node-b', ['ip', 'addr', 'del', `${vip()}/24`, 'dev', 'eth0'])).code, 0)
  assert.is((await lab.exec('node-b', [SVC, 'start', 'db'])).code, 0)
  await labPause(lab.inv, 'node-b')
  await sleep(200)
  await labResume(lab.inv, 'node-b')
  assert.is((await lab.exec('node-b', [SVC, 'stop', 'db'])).code, 0)
  await sleep(50)
  const r = await inv.stop()
  assert.equal(
    r.violations.map((v) => v.what),
    [`floating IP ${vip()} held by node-a, node-b`, 'singleton db of pair demo running on node-a, node-b'],
  )
  for (const v of r.violations) assert.ok(v.untilMs !== undefined && v.samples >= 3, JSON.stringify(v))
  const db = r.violations[1]
  assert.ok(db.untilMs! - db.atMs >= 200, `a stopped db still runs: ${JSON.stringify(db)}`)
  console.log(`  sampler: ${r.samples} samples in ${r.durationMs} ms, max gap ${r.maxGapMs} ms, mean sample ${r.meanSampleMs} ms, cpu ${r.cpuMs} ms`)
})

test('down removes a paused lab: stopped processes die, the nft table goes with the namespace', async () => {
  await labPartition(lab.inv, 'node-a', 'node-b')
  await labPause(lab.inv, 'node-a')
  await labPause(lab.inv, 'node-b')
  const plan = labPlan(lab.inv)
  const pids = plan.nodes.flatMap((n) => nsPids(n.ns))
  assert.ok(pids.length >= 6)
  await lab.down()
  assert.equal(
    listNamespaces().filter((n) => n.startsWith(`hp-${plan.lab}-`)),
    [],
  )
  assert.equal(
    pids.filter((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ')),
    [],
  )
})

test.run()
