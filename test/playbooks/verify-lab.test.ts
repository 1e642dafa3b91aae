// verify against a real lab pair: healthy passes every check; then each check is made to fail
// for real, one at a time, and must name the right node, check and detail; then repaired.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { selectChecks } from '../../lib/checks/registry.ts'
import { verifyPair } from '../../lib/checks/runner.ts'
import type { CheckResult } from '../../lib/checks/types.ts'
import type { Pair } from '../../lib/inventory/schema.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook } from '../helpers/playbook.ts'

const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  t: string,
) => { name: string; metrics: { value: string; labels: Record<string, string> }[] }[]

let lab: TestLab
let pool: SshPool
let pair: Pair
let vip: string
test.before(async () => {
  lab = await startTestLab()
  pool = new SshPool(lab.inv)
  pair = lab.inv.data.pairs[0]
  vip = pair.floatingIps![0].address
  // "Synced": the lab writes each node's files a few ms apart; rsync -a would carry the
  // active node's mtimes over, so give both nodes the same ones.
  for (const n of ['node-a', 'node-b']) await sh(n, 'find /srv/app /srv/config -exec touch -h -d @1714600000 {} +')
})
test.after(async () => {
  pool?.close()
  await lab?.down()
})

async function sh(node: string, script: string): Promise<string> {
  const r = await lab.exec(node, ['sh', '-c', script])
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}
const verify = (names: string[], opts: { deep?: boolean } = {}) => verifyPair(lab.inv, pair, pool, selectChecks(names), opts)
const one = (rs: CheckResult[], node: string, check: string) => {
  const r = rs.find((x) => x.node === node && x.check === check)
  if (!r) throw new Error(`no result for ${node}/${check}: ${JSON.stringify(rs)}`)
  return r
}
/** Exactly this node fails this check; every other result passes. */
function onlyFails(rs: CheckResult[], node: string, check: string, detail: RegExp) {
  const bad = rs.filter((r) => !r.ok)
  assert.equal(
    bad.map((r) => `${r.node}/${r.check}`),
    [`${node}/${check}`],
    JSON.stringify(bad),
  )
  assert.match(bad[0].detail, detail)
}

test('a healthy, synced lab passes every check on both nodes (exit 0), with JSON, JUnit and metrics', async () => {
  const dir = path.dirname(lab.file)
  const junit = path.join(dir, 'verify.xml')
  const metrics = path.join(dir, 'verify.prom')
  const r = await playbook('verify', ['--inventory', lab.file, '--json', '--junit', junit, '--metrics', metrics], { timeoutMs: 90_000 })
  const out = json(r)
  assert.is(r.code, 0, r.stdout)
  assert.is(out.ok, true)
  assert.is(out.checks.length, 24) // 12 checks x 2 nodes
  for (const n of ['node-a', 'node-b']) assert.is(out.checks.filter((c: CheckResult) => c.node === n).length, 12)
  assert.match(one(out.checks, 'node-b', 'clock-skew').detail, /ms (ahead of|behind) the controller \(± [\d.]+ ms, max 500 ms\)/)
  assert.match(one(out.checks, 'node-a', 'backups').detail, /app: app-\d{8}-\d{6}\.tar\.gz finished \S+Z/)
  const xml = readFileSync(junit, 'utf8')
  assert.is(XMLValidator.validate(xml), true)
  const cases = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'testcase' }).parse(xml).testsuites.testsuite.testcase
  assert.is(cases.length, 24)
  assert.not.ok(cases.some((c: any) => c.failure))
  const fams = parsePrometheus(readFileSync(metrics, 'utf8'))
  const ok = fams.find((f) => f.name === 'hapair_check_ok')!
  assert.is(ok.metrics.length, 24)
  assert.ok(ok.metrics.every((m) => m.value === '1'))
  // The summary every status sees, on both nodes.
  for (const n of ['node-a', 'node-b']) {
    const rec = JSON.parse(await sh(n, `cat /var/lib/hapair/${pair.name}/verify.json`))
    assert.equal([rec.ok, rec.failed], [true, []])
  }
})

test('sync drift: a changed file on the secondary fails node-b, naming the file', async () => {
  await sh('node-b', 'echo "4,Mallory" >> /srv/app/data/customers.csv')
  onlyFails(
    await verify(['sync-drift']),
    'node-b',
    'sync-drift',
    /^app: 1 entry differs from node-a \(active\): data\/customers\.csv \(size \d+ vs \d+\); run the sync playbook from node-a$/,
  )
  await sh('node-b', "sed -i '$d' /srv/app/data/customers.csv && touch -d @1714600000 /srv/app/data/customers.csv")
  assert.ok((await verify(['sync-drift'])).every((r) => r.ok))
})

test('sync drift: same size, mtime restored: fast mode misses it, --deep catches it', async () => {
  await sh('node-b', "sed -i 's/Grace/GRACE/' /srv/app/data/customers.csv && touch -d @1714600000 /srv/app/data/customers.csv")
  assert.ok(
    (await verify(['sync-drift'])).every((r) => r.ok),
    'fast mode compares size and mtime only',
  )
  onlyFails(await verify(['sync-drift'], { deep: true }), 'node-b', 'sync-drift', /data\/customers\.csv \(content\)/)
  await sh('node-b', "sed -i 's/GRACE/Grace/' /srv/app/data/customers.csv && touch -d @1714600000 /srv/app/data/customers.csv")
  assert.ok((await verify(['sync-drift'], { deep: true })).every((r) => r.ok))
})

test('sync drift: protected paths differ by design and are not reported; extra files on a mirrored item are', async () => {
  await sh('node-b', 'echo changed > /srv/app/local/node.txt; echo changed > /srv/app/.rhosts; echo x > /srv/app/stray')
  onlyFails(await verify(['sync-drift'], { deep: true }), 'node-b', 'sync-drift', /^app: 1 entry differs .*: stray \(extra here\)/)
  await sh('node-b', 'rm /srv/app/stray')
})

test('backups: a stale backup fails the node it is on, with its finish time', async () => {
  await sh('node-b', 'touch -d "3 days ago" /var/backups/app/*.tar.gz')
  onlyFails(
    await verify(['backups']),
    'node-b',
    'backups',
    /^app: newest app-\S+\.tar\.gz finished \S+Z \(3\.0 days ago\), older than 26 h: the backup job has not run/,
  )
  await sh('node-b', 'touch /var/backups/app/*.tar.gz')
})

test('archiving: no new file within maxAgeMinutes fails', async () => {
  await sh('node-a', 'touch -d "2 hours ago" /var/lib/app/archive/*')
  onlyFails(await verify(['archiving']), 'node-a', 'archiving', /^wal: newest wal-\S+ 2\.0 h ago \(1 files, max 60 min\): archiving has stopped/)
  await sh('node-a', 'touch /var/lib/app/archive/*')
})

test('error log: a new ERROR line fails once, with the line; the next run starts after it', async () => {
  await verify(['error-log']) // reads up to now
  await sh(
    'node-b',
    'echo "$(date -u +%FT%TZ) ERROR replication slot lost" >> /var/log/app/error.log; echo "x ERROR (expected) test" >> /var/log/app/error.log',
  )
  onlyFails(
    await verify(['error-log']),
    'node-b',
    'error-log',
    /^app: 1 line since \S+ match: "\S+ ERROR replication slot lost"; read \/var\/log\/app\/error\.log on node-b/,
  )
  assert.ok((await verify(['error-log'])).every((r) => r.ok))
  const offsets = JSON.parse(await sh('node-b', `cat /var/lib/hapair/${pair.name}/log-offsets.json`))
  assert.is(offsets.logs.app.offset, Number(await sh('node-b', 'stat -c %s /var/log/app/error.log')))
})

test('paths: a missing declared path fails that node', async () => {
  await sh('node-b', 'mv /srv/app /srv/app.moved')
  onlyFails(await verify(['paths']), 'node-b', 'paths', /^\/srv\/app: missing \(expected dir\)/)
  await sh('node-b', 'mv /srv/app.moved /srv/app')
})

test('identical files: a differing shared secret fails the secondary without printing it', async () => {
  const secret = (await sh('node-b', 'cat /var/lib/app/secret.key')).trim()
  await sh('node-b', 'echo not-the-secret > /var/lib/app/secret.key')
  const rs = await verify(['identical-files'])
  onlyFails(rs, 'node-b', 'identical-files', /^\/var\/lib\/app\/secret\.key: differs from node-a \(active\): copy it from there$/)
  const digest = (await sh('node-a', 'sha256sum /var/lib/app/secret.key')).slice(0, 16)
  for (const r of rs) {
    assert.not.match(r.detail, secret)
    assert.not.match(r.detail, digest)
  }
  await lab.exec('node-b', ['sh', '-c', 'cat > /var/lib/app/secret.key'], { input: secret + '\n' })
  assert.ok((await verify(['identical-files'])).every((r) => r.ok))
})

test('floating IP on both nodes fails the one that should not hold it; on none fails the active node', async () => {
  await sh('node-b', `ip addr add ${vip}/24 dev eth0`)
  onlyFails(
    await verify(['floating-ip']),
    'node-b',
    'floating-ip',
    new RegExp(`^holds ${vip.replace(/\./g, '\\.')}, but the active node is node-a .*release it here$`),
  )
  await sh('node-b', `ip addr del ${vip}/24 dev eth0`)
  await sh('node-a', `ip addr del ${vip}/24 dev eth0`)
  onlyFails(await verify(['floating-ip']), 'node-a', 'floating-ip', /is not here on the active node \(held by no node\)/)
  await sh('node-a', `ip addr add ${vip}/24 dev eth0`)
  assert.ok((await verify(['floating-ip'])).every((r) => r.ok))
})

test('singletons: the database running on both nodes fails the standby: two live writers', async () => {
  await sh('node-b', '/var/lib/lab/bin/svc start db')
  onlyFails(await verify(['singletons']), 'node-b', 'singletons', /^db is running here, but the active node is node-a: two live writers; stop it here/)
  await sh('node-b', '/var/lib/lab/bin/svc stop db')
})

test('singletons: a service that stops answering through the floating IP fails the active node', async () => {
  await sh('node-a', '/var/lib/lab/bin/svc stop web')
  onlyFails(await verify(['singletons']), 'node-a', 'singletons', /does not serve through .*web: http:\/\/[\d.]+:8080\/: ECONNREFUSED/)
  await sh('node-a', '/var/lib/lab/bin/svc start web')
})

test('latency: a lossy path from node-b to the database fails node-b, naming the endpoint and its limit', async () => {
  assert.ok(
    (await verify(['latency'])).every((r) => r.ok),
    'fast before',
  )
  // This kernel has no netem, so the delay is made the way a lossy link makes it: every other
  // SYN node-b sends to the database is dropped (nftables in node-b's namespace), and each
  // connect waits for TCP's one-second retransmission. The gateway is pinged and stays fast.
  const TABLE = 'hapair_latency_test'
  const rules = `table inet ${TABLE} {
  chain out {
    type filter hook output priority 0;
    tcp dport 5432 tcp flags & (syn | ack) == syn numgen inc mod 2 == 0 drop
  }
}
`
  const added = await lab.exec('node-b', ['nft', '-f', '-'], { input: rules })
  assert.is(added.code, 0, added.stderr)
  try {
    onlyFails(await verify(['latency']), 'node-b', 'latency', /^database \S+:5432 \d{3,} ms > 10 ms: move the node closer or fix the path$/)
  } finally {
    await lab.exec('node-b', ['nft', 'delete', 'table', 'inet', TABLE])
  }
  assert.ok(
    (await verify(['latency'])).every((r) => r.ok),
    'fast again',
  )
})

test('records: a forged record on the passive node fails there, naming the jump and the contradiction', async () => {
  const dir = `/var/lib/hapair/${pair.name}`
  await sh('node-b', `mkdir -p ${dir} && printf '%s' '{"epoch":999,"active":"node-b","since":"2026-12-01T00:00:00Z","by":"x"}' > ${dir}/active.json`)
  await sh('node-a', `mkdir -p ${dir} && printf '%s' '{"epoch":3,"active":"node-a","since":"2026-12-01T00:00:00Z","by":"x"}' > ${dir}/active.json`)
  try {
    onlyFails(await verify(['records']), 'node-b', 'records', /records say node-b is active \(epoch 999\), but .* is on node-a.*jumps to epoch 999/)
  } finally {
    await sh('node-b', `rm -f ${dir}/active.json`)
    await sh('node-a', `rm -f ${dir}/active.json`)
  }
  assert.ok((await verify(['records'])).every((r) => r.ok))
})

test('an isolated node fails every check as unreachable; the other node is still checked (exit 1)', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  try {
    const r = await playbook('verify', ['--inventory', lab.file, '--json'], { timeoutMs: 90_000 })
    assert.is(r.code, 1, r.stderr)
    const out = json(r)
    const b = out.checks.filter((c: CheckResult) => c.node === 'node-b')
    assert.is(b.length, 12)
    for (const c of b) {
      assert.is(c.ok, false)
      assert.match(c.detail, /^unreachable: node-b/)
    }
    const a = out.checks.filter((c: CheckResult) => c.node === 'node-a')
    assert.is(a.length, 12)
    assert.match(one(a, 'node-a', 'links').detail, /^cannot reach peer node-b/)
    assert.equal(
      a.filter((c: CheckResult) => !c.ok).map((c: CheckResult) => c.check),
      ['links'],
    )
    const rec = JSON.parse(await sh('node-a', `cat /var/lib/hapair/${pair.name}/verify.json`))
    assert.is(rec.ok, false)
    assert.ok(rec.failed.includes('node-b/paths'))
  } finally {
    await labFault(lab.inv, 'heal', 'node-b')
  }
})

test.run()
