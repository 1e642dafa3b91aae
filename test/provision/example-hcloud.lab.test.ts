// Issue 14 end to end: inventory/example-hcloud.json, imported with import-stack from the output
// `pulumi stack output --json --show-secrets` prints for it, runs validate, status, sync, verify
// and failover against four lab nodes with no hand edit of the imported file. The lab nodes
// stand in for the servers `pulumi up` made: each boots the cloud-config the stack renders
// for it (lib/provision/cloud-init.ts, the same function, the same generated keys), applied
// here the way cloud-init applies it; the stack output carries the lab's addresses. The
// Hetzner API is the loopback fake, reached through HCLOUD_ENDPOINT as the hcloud CLI and the
// stack's provider would be, so the inventory needs no apiUrl.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { loadInventory, type LoadedInventory } from '../../lib/inventory/load.ts'
import { cloudInit } from '../../lib/provision/cloud-init.ts'
import { provisionPlan } from '../../lib/provision/plan.ts'
import { labFault } from '../../lib/lab/index.ts'
import { rekeyNode } from '../../lib/lab/rekey.ts'
import { ed25519Pair, type Ed25519Pair } from '../helpers/ed25519.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { httpBody, startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook, type PlaybookRun } from '../helpers/playbook.ts'

const EXAMPLE = path.resolve('inventory/example-hcloud.json')
const TOKEN = 'hcloud-example-e2e-token-7d2a9f4c1b8e6035'
/** Hetzner server ids, and the floating IP ids, as `pulumi up` would have them. */
const SERVER: Record<string, number> = { 'web-1': 201, 'web-2': 202, 'db-1': 301, 'db-2': 302 }
const FIP: Record<string, number> = { web: 21, db: 31 }
const SVC = '/var/lib/lab/bin/svc'

// The lab: the example's pairs and node names, each service a lab server on the ports its
// checks use (the lab needs no floating IP: the first boot below puts it on the primary).
const labService = (name: string, singleton: boolean, checks: object[]) => ({
  name,
  singleton,
  start: `${SVC} start ${name}`,
  stop: `${SVC} stop ${name}`,
  status: `${SVC} status ${name}`,
  checks,
})
function labPairs(j: any): void {
  const nodes = (names: string[], first: number) => names.map((name, i) => ({ name, address: `198.51.100.${first + i}`, interface: 'eth0' }))
  j.pairs = [
    {
      name: 'web',
      primary: 'web-1',
      nodes: nodes(['web-1', 'web-2'], 11),
      services: [
        labService('nginx', false, [
          { protocol: 'http', port: 80, path: '/healthz', expectStatus: 200 },
          { protocol: 'tcp', port: 443 },
        ]),
      ],
    },
    {
      name: 'db',
      primary: 'db-1',
      nodes: nodes(['db-1', 'db-2'], 13),
      services: [labService('postgresql', true, [{ protocol: 'tcp', port: 5432 }])],
    },
  ]
}

// What the Debian image has and the lab's namespaces do not: a private /etc, /usr/local and
// /var (the lab shares the host's, but for /var/lib, /var/log and /var/backups), on the node's
// own /run. Then what deploying the application put there: nginx's and PostgreSQL's config,
// and `systemctl`, `nginx -v` and `pg_isready` answering for the lab's servers, since the
// example's services are systemd units.
const IMAGE = String.raw`set -e
r=/run/lab-image
mkdir -p $r/keep/lib $r/keep/log $r/keep/backups
for d in etc usr-local var; do mkdir -p $r/$d/up $r/$d/work; done
for d in lib log backups; do mount -n --move /var/$d $r/keep/$d; done
mount -n -t overlay lab-var -o lowerdir=/var,upperdir=$r/var/up,workdir=$r/var/work /var
for d in lib log backups; do mount -n --move $r/keep/$d /var/$d; done
mount -n -t overlay lab-etc -o lowerdir=/etc,upperdir=$r/etc/up,workdir=$r/etc/work /etc
mount -n -t overlay lab-usr-local -o lowerdir=/usr/local,upperdir=$r/usr-local/up,workdir=$r/usr-local/work /usr/local
mkdir -p /usr/local/sbin /usr/local/bin
cat > /usr/local/sbin/systemctl <<'EOF'
#!/bin/sh
# lab stand-in for systemd: systemctl start|stop|is-active [--quiet] UNIT, on the lab's servers
act=$1; shift; q=; [ "$1" = --quiet ] && { q=1; shift; }
case $act in
  start|stop) exec /var/lib/lab/bin/svc "$act" "$1" >/dev/null ;;
  is-active) /var/lib/lab/bin/svc status "$1" >/dev/null 2>&1; rc=$?; [ -n "$q" ] || { [ $rc = 0 ] && echo active || echo inactive; }; exit $rc ;;
  *) echo "systemctl (lab): $act is not supported" >&2; exit 1 ;;
esac
EOF
printf '#!/bin/sh\necho "nginx version: nginx/1.22.1" >&2\n' > /usr/local/sbin/nginx
printf '#!/bin/sh\nexec /var/lib/lab/bin/svc status postgresql >/dev/null\n' > /usr/local/bin/pg_isready
chmod 755 /usr/local/sbin/systemctl /usr/local/sbin/nginx /usr/local/bin/pg_isready
`
const WEB_APP = String.raw`set -e
mkdir -p /etc/nginx/sites-enabled /var/www/site/.well-known
printf 'worker_processes auto;\n' > /etc/nginx/nginx.conf
`
// A running PostgreSQL pair has its nightly dump, an archived WAL segment and a log (with the
// start-up line the example ignores): what the example's backups, archives and errorLogs watch.
const DB_APP = String.raw`set -e
mkdir -p /etc/postgresql/16/main /var/backups/postgresql /var/lib/postgresql/wal-archive /var/log/postgresql
printf 'local all all peer\n' > /etc/postgresql/16/main/pg_hba.conf
cd /var/backups/postgresql
head -c 4096 /dev/urandom | gzip > "db-$(date -u +%Y%m%dT%H%M%SZ).sql.gz"
sha256sum -- *.sql.gz > SHA256SUMS
head -c 1024 /dev/urandom > /var/lib/postgresql/wal-archive/000000010000000000000001
printf '%s\n' 'LOG:  database system is ready to accept connections' 'FATAL:  the database system is starting up' > /var/log/postgresql/postgresql-16-main.log
`

let lab: TestLab
let api: FakeHcloud
let dir: string
let inventory: string
let pulled: LoadedInventory
let keys: Record<string, { host: Ed25519Pair; sync: Ed25519Pair }>
const vip: Record<string, string> = {}
const timings: string[] = []
const env = () => ({ HCLOUD_TOKEN: TOKEN, HCLOUD_ENDPOINT: api.url })

const must = async (node: string, script: string, input?: string) => {
  const r = await lab.exec(node, ['sh', '-c', script, 'sh'], { input })
  if (r.code !== 0) throw new Error(`${node}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}

/** What cloud-init does with the user data: the ssh module's host key, write_files, runcmd. */
async function firstBoot(node: string, userData: string): Promise<void> {
  assert.match(userData, /^#cloud-config\n/)
  const doc = YAML.parse(userData)
  assert.is(doc.ssh_deletekeys, true)
  assert.equal(doc.ssh_genkeytypes, [])
  await rekeyNode(lab.inv, node, { privateKey: doc.ssh_keys.ed25519_private, publicKey: doc.ssh_keys.ed25519_public })
  for (const f of doc.write_files) {
    const r = await lab.exec(node, ['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', 'sh', f.path, f.permissions], {
      input: f.content,
    })
    assert.is(r.code, 0, `${node}: write ${f.path}: ${r.stderr}`)
  }
  for (const c of doc.runcmd) {
    const r = await lab.exec(node, Array.isArray(c) ? c : ['sh', '-c', c])
    assert.is(r.code, 0, `${node}: runcmd ${JSON.stringify(c)}: ${r.stderr}`)
  }
}

const run = async (name: string, args: string[], input?: string): Promise<PlaybookRun> => {
  const r = await playbook(name, args, { env: env(), input })
  timings.push(`${name} ${args.filter((a) => !a.startsWith('/')).join(' ')}: ${r.ms} ms`)
  return r
}

test.before(async () => {
  const t0 = Date.now()
  api = await new FakeHcloud(TOKEN).start()
  for (const [n, id] of Object.entries(SERVER)) api.addServer(id, n)
  api.actionPolls = 1
  lab = await startTestLab({ mutate: labPairs })
  api.onPowerOff = async (id) => {
    await labFault(
      lab.inv,
      'kill',
      Object.keys(SERVER).find((n) => SERVER[n] === id)!,
    )
  }
  // Free addresses of the lab's slot, for the floating IPs Hetzner would have handed out.
  const base = 32 * lab.slot
  vip.web = `198.51.100.${base + 20}`
  vip.db = `198.51.100.${base + 21}`
  api.addFloatingIp(FIP.web, vip.web, SERVER['web-1']).addFloatingIp(FIP.db, vip.db, SERVER['db-1'])

  // The operator's copy of the example, with the admin key (the lab's controller key stands in for it).
  dir = mkdtempSync(path.join(tmpdir(), 'hapair-example-hcloud-'))
  inventory = path.join(dir, 'prod.json')
  copyFileSync(EXAMPLE, inventory)
  mkdirSync(path.join(dir, 'keys'))
  const controllerKey = path.resolve(lab.inv.dir, lab.inv.data.defaults!.ssh!.keyFile!)
  copyFileSync(controllerKey, path.join(dir, 'keys/admin_ed25519'))
  copyFileSync(`${controllerKey}.pub`, path.join(dir, 'keys/admin_ed25519.pub'))
  timings.push(`lab up (4 nodes) and fake API: ${Date.now() - t0} ms`)
})
test.after(async () => {
  await lab?.down()
  await api?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  if (timings.length) console.log(`\n  ${timings.join('\n  ')}`)
})

test('pulumi up, as the lab sees it: every node boots the cloud-config the stack renders for it', async () => {
  const t0 = Date.now()
  pulled = loadInventory(inventory)
  const plans = provisionPlan(pulled, 'hcloud')
  assert.equal(
    plans.map((p) => p.pair.name),
    ['web', 'db'],
  )
  // The stack gives web a floating IPv6 too (floatingIpv6); the lab has no IPv6, so it is left out below.
  assert.equal(
    plans.map((p) => p.floatingIps.map((f) => f.name)),
    [['vip', 'vip6'], ['vip']],
  )
  keys = Object.fromEntries(Object.keys(SERVER).map((n) => [n, { host: ed25519Pair(), sync: ed25519Pair() }]))
  await Promise.all(
    plans.flatMap((plan) =>
      plan.nodes.map(async ({ node, primary, sshUser }) => {
        await must(node.name, IMAGE)
        await must(node.name, plan.pair.name === 'web' ? WEB_APP : DB_APP)
        // The lab has no IPv6 (and may hold no address outside its slot): the floating IPv4 only.
        const hold = primary ? plan.floatingIps.filter((f) => f.family === 'ipv4').map((f) => ({ address: vip[plan.pair.name], prefix: f.prefix })) : []
        const peers = plan.nodes
          .filter((m) => m.node.name !== node.name)
          .map((m) => ({ name: m.node.name, hostPublicKey: keys[m.node.name].host.publicKeyOpenssh, syncPublicKey: keys[m.node.name].sync.publicKeyOpenssh }))
        const own = keys[node.name]
        const userData = cloudInit({
          pair: plan.pair,
          node,
          hold,
          keys: {
            hostKey: { privateKey: own.host.privateKeyOpenssh, publicKey: own.host.publicKeyOpenssh },
            syncKey: { privateKey: own.sync.privateKeyOpenssh, publicKey: own.sync.publicKeyOpenssh },
            peers,
            sshUser,
          },
        })
        await firstBoot(node.name, userData)
      }),
    ),
  )
  // The nodes' files are their own: what web-1 wrote is not on db-1, nor on this machine.
  assert.match(await must('web-1', 'cat /etc/hapair/node.json'), /"node": "web-1"/)
  assert.match(await must('db-1', 'cat /etc/hapair/node.json'), /"node": "db-1"/)
  assert.equal(await lab.holders(vip.web), ['web-1'])
  assert.equal(await lab.holders(vip.db), ['db-1'])
  timings.push(`first boot of 4 nodes: ${Date.now() - t0} ms`)
})

test('import-stack writes the inventory from the stack output; nothing else edits it', async () => {
  const key = (k: Ed25519Pair) => ({ publicKey: k.publicKeyOpenssh.trim(), fingerprint: k.fingerprint })
  const plans = provisionPlan(pulled, 'hcloud')
  // `pulumi stack output --json --show-secrets`: the `pairs` export (no secret in it).
  const output = {
    pairs: Object.fromEntries(
      plans.map((plan, pi) => [
        plan.pair.name,
        {
          provider: 'hcloud',
          nodes: Object.fromEntries(
            plan.nodes.map(({ node }, i) => {
              const address = lab.inv.data.pairs[pi].nodes[i].address
              return [
                node.name,
                {
                  id: SERVER[node.name],
                  ipv4: address,
                  ipv6: `2001:db8:${SERVER[node.name]}::1`,
                  privateIpv4: address,
                  hostKey: key(keys[node.name].host),
                  syncKey: key(keys[node.name].sync),
                },
              ]
            }),
          ),
          floatingIps: plan.floatingIps
            .filter((f) => f.family === 'ipv4')
            .map((f) => ({ name: f.name, id: FIP[plan.pair.name], address: vip[plan.pair.name], family: f.family })),
        },
      ]),
    ),
  }
  assert.not.ok(existsSync(path.join(dir, 'keys/known_hosts')), 'nothing pinned before the import')
  const r = await run('import-stack', ['--stack-output', '-', '--inventory', inventory, '--out', inventory, '--json'], JSON.stringify(output, null, 2))
  assert.is(r.code, 0, r.stdout + r.stderr)
  const report = json(r)
  assert.equal(report.warnings, [])
  assert.is(report.knownHosts.length, 1)
  assert.is(report.knownHosts[0].file, path.join(dir, 'keys/known_hosts'))
  assert.equal(
    report.knownHosts[0].pins.map((p: any) => p.fingerprint).sort(),
    Object.values(keys)
      .map((k) => k.host.fingerprint)
      .sort(),
  )
  const text = readFileSync(inventory, 'utf8')
  assert.not.match(text, /apiUrl/, 'the API endpoint is not in the inventory')
  const inv = loadInventory(inventory)
  for (const p of inv.data.pairs) {
    assert.is(p.fencing?.driver, 'hcloud')
    assert.equal(
      p.floatingIps?.map((f) => [f.driver, f.address, f.hcloud?.floatingIpId]),
      [['hcloud', vip[p.name], FIP[p.name]]],
    )
    assert.is(p.sync?.nodeKeyFile, '/etc/hapair/sync_ed25519')
    assert.is(p.sync?.nodeKnownHostsFile, '/etc/hapair/known_hosts')
  }
})

test('validate and status accept the imported inventory as it is: both pairs healthy', async () => {
  const v = await run('validate', ['--inventory', inventory])
  assert.is(v.code, 0, v.stdout + v.stderr)
  const st = await run('status', ['--inventory', inventory, '--json'])
  assert.is(st.code, 0, st.stdout + st.stderr)
  const pairs = json(st).pairs
  assert.equal(
    pairs.map((p: any) => [p.name, p.active]),
    [
      ['web', 'web-1'],
      ['db', 'db-1'],
    ],
  )
})

test('sync: the stack-generated sync key and pins carry the files to the standby', async () => {
  await must('web-1', 'echo "<h1>from web-1</h1>" > /var/www/site/index.html && echo "server { listen 80; }" > /etc/nginx/sites-enabled/site')
  await must('db-1', 'echo "max_connections = 50" > /etc/postgresql/16/main/postgresql.conf')
  for (const pair of ['web', 'db']) {
    const r = await run('sync', ['--inventory', inventory, '--pair', pair, '--json'])
    assert.is(r.code, 0, r.stdout + r.stderr)
  }
  assert.is(await must('web-2', 'cat /var/www/site/index.html'), '<h1>from web-1</h1>\n')
  assert.is(await must('web-2', 'cat /etc/nginx/sites-enabled/site'), 'server { listen 80; }\n')
  assert.is(await must('db-2', 'cat /etc/postgresql/16/main/postgresql.conf'), 'max_connections = 50\n')
  // The hop's key is the stack's, authorized behind the forced command: it runs rsync's
  // receiving server and nothing else, and the peer is known under its alias from first boot.
  const shell = await lab.exec('web-1', [
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    '/etc/hapair/sync_ed25519',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'UserKnownHostsFile=/etc/hapair/known_hosts',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'HostKeyAlias=hapair-web@web-2',
    `root@${lab.inv.data.pairs[0].nodes[1].address}`,
    'id',
  ])
  assert.is.not(shell.code, 0, shell.stdout)
  assert.not.match(shell.stdout, /uid=/)
  assert.not.match(shell.stderr, /host key|HOST IDENTIFICATION/i, shell.stderr)
})

test("verify: every check of the example passes on all four nodes, the error log's FATAL among them", async () => {
  const r = await run('verify', ['--inventory', inventory, '--json'])
  const checks: { pair: string; node: string; check: string; ok: boolean; detail: string }[] = json(r).checks
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.node} ${c.check}: ${c.detail}`)
  assert.equal(failed, [], failed.join('\n'))
  assert.is(r.code, 0, r.stderr)
  for (const c of ['backups', 'archiving', 'error-log', 'identical-files', 'sync-drift', 'links', 'floating-ip', 'singletons'])
    assert.equal(
      checks
        .filter((x) => x.check === c)
        .map((x) => x.node)
        .sort(),
      ['db-1', 'db-2', 'web-1', 'web-2'],
      c,
    )
})

test('an HCLOUD_ENDPOINT that is not a URL is bad input: failover stops (exit 2) before any API call or change', async () => {
  const calls = api.requests.length
  const r = await playbook('failover', ['--inventory', inventory, '--pair', 'web', '--to', 'web-2', '--yes'], {
    env: { ...env(), HCLOUD_ENDPOINT: 'api.hetzner.cloud/v1' },
  })
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /HCLOUD_ENDPOINT: not an http\(s\) API base URL/)
  assert.is(api.requests.length, calls, 'no API request')
  assert.equal(await lab.holders(vip.web), ['web-1'])
  assert.equal(await lab.runningOn('nginx'), ['web-1', 'web-2'])
})

test('planned failover of web: the floating IP moves through the API and the kernels', async () => {
  const r = await run('failover', ['--inventory', inventory, '--pair', 'web', '--to', 'web-2', '--yes', '--json'])
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.is(api.floatingIps.get(FIP.web)!.server, SERVER['web-2'])
  assert.equal(await lab.holders(vip.web), ['web-2'])
  assert.is(await httpBody(vip.web, 80), 'web-2')
  assert.is(api.servers.get(SERVER['web-1'])!.status, 'running', 'a reachable node is stopped over SSH, not powered off')
})

test('db-1 unreachable: fenced by the hcloud power-off, the singleton and its address on db-2', async () => {
  await labFault(lab.inv, 'isolate', 'db-1')
  const r = await run('failover', ['--inventory', inventory, '--pair', 'db', '--to', 'db-2', '--yes', '--json'])
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.match(json(r).steps.find((x: any) => x.name === 'fence').detail, /db-1 .* powered off through the hcloud API/)
  assert.ok(api.requests.some((q) => q.method === 'POST' && q.path === `/v1/servers/${SERVER['db-1']}/actions/poweroff`))
  assert.is(api.servers.get(SERVER['db-1'])!.status, 'off')
  assert.is(api.floatingIps.get(FIP.db)!.server, SERVER['db-2'])
  assert.equal(await lab.holders(vip.db), ['db-2'])
  assert.equal(await lab.runningOn('postgresql'), ['db-2'])
})

test.run()
