// The real lab: namespaces, sshd, services, faults, on this machine. No mocks; needs root.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { InputError, RefusedError } from '../../lib/errors.ts'
import { loadInventory } from '../../lib/inventory/load.ts'
import { labFault, labPlan, labStatus, labUp, rootVeth, SVC } from '../../lib/lab/index.ts'
import { listNamespaces } from '../../lib/lab/net.ts'
import { nsPids } from '../../lib/lab/node.ts'
import { httpGet, tcpOpen, waitFor } from '../../lib/lab/ready.ts'
import { SLOT_DIR, startTestLab, type TestLab } from '../helpers/lab.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
let lab: TestLab

interface Out {
  code: number
  stdout: string
  stderr: string
}
function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Out> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    c.on('error', reject)
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}
// ssh takes the first value it sees for an option, so `extra` overrides the lab's settings.
const ssh = (node: string, command: string, extra: string[] = []) => sh('ssh', [...extra, ...lab.sshArgs(node), command])
const addr = (node: string) => lab.inv.data.pairs[0].nodes.find((n) => n.name === node)!.address
const vip = () => lab.inv.data.pairs[0].floatingIps![0].address
const ns = (node: string) => labPlan(lab.inv).nodes.find((n) => n.name === node)!.ns
const body = async (host: string) => (await httpGet(host, 8080, '/', 1500)).body
function tcpAsk(host: string, port: number, line: string): Promise<string> {
  return sh('bash', ['-c', 'exec 3<>"/dev/tcp/$1/$2" && printf %s "$3" >&3 && timeout 2 head -n 1 <&3', 'ask', host, String(port), line]).then((r) => r.stdout)
}
/** uvu 0.5 has no assert.rejects. */
async function rejects(p: Promise<unknown>, check: RegExp | ((e: unknown) => boolean)): Promise<void> {
  try {
    await p
  } catch (e) {
    assert.ok(check instanceof RegExp ? check.test(String((e as Error).message)) : check(e), `unexpected error: ${(e as Error).message}`)
    return
  }
  assert.unreachable('expected a rejection')
}
const playbook = (args: string[], zx = false) =>
  sh(zx ? 'npx' : process.execPath, zx ? ['zx', 'playbooks/lab.ts', ...args] : ['--import', 'tsx', 'playbooks/lab.ts', ...args], {
    cwd: root,
    env: { ...process.env, npm_config_loglevel: 'error' },
  })

test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

test('the controller reaches every node over ssh, host keys pinned', async () => {
  for (const n of ['node-a', 'node-b']) {
    const r = await ssh(n, 'hostname; cat /var/lib/lab/node-name')
    assert.is(r.code, 0, r.stderr)
    assert.is(r.stdout, `${n}\n${n}\n`)
  }
})

test('a wrong pin is refused', async () => {
  const s = labPlan(lab.inv)
  const [a, b] = readFileSync(s.knownHostsFile, 'utf8').trim().split('\n')
  const wrong = path.join(path.dirname(lab.file), 'wrong_known_hosts')
  writeFileSync(wrong, `${a.split(' ')[0]} ${b.split(' ').slice(1).join(' ')}\n`)
  const r = await ssh('node-a', 'true', ['-o', `UserKnownHostsFile=${wrong}`])
  assert.is(r.code, 255)
  assert.match(r.stderr, /IDENTIFICATION HAS CHANGED|verification failed/)
})

test('nodes reach each other with their own keys and pins; rsync works over it', async () => {
  const opts = [
    '-i',
    '/var/lib/hapair/ssh/id_ed25519',
    '-o',
    'UserKnownHostsFile=/var/lib/hapair/ssh/known_hosts',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
  ]
  const r = await lab.exec('node-a', ['ssh', ...opts, `root@${addr('node-b')}`, 'hostname'])
  assert.is(r.code, 0, r.stderr)
  assert.is(r.stdout, 'node-b\n')
  const rs = await lab.exec('node-b', ['rsync', '-a', '--dry-run', '-e', `ssh ${opts.join(' ')}`, '/srv/app/', `root@${addr('node-a')}:/srv/app/`])
  assert.is(rs.code, 0, rs.stderr)
})

test('each node has its own /srv and /var/lib, seeded alike', async () => {
  assert.is((await lab.exec('node-a', ['sh', '-c', 'echo a >/srv/app/only-on-a'])).code, 0)
  assert.is((await lab.exec('node-b', ['test', '-e', '/srv/app/only-on-a'])).code, 1)
  await lab.exec('node-a', ['rm', '/srv/app/only-on-a'])
  const facts =
    'stat -c %a /var/lib/app/secret.key; sha256sum </var/lib/app/secret.key; cat /var/lib/app/software-version /var/lib/app/data-version; ls /srv/app/data; cat /srv/config/app.conf'
  const [a, b] = await Promise.all(['node-a', 'node-b'].map((n) => lab.exec(n, ['sh', '-c', facts])))
  assert.is(a.code, 0, a.stderr)
  assert.is(a.stdout, b.stdout)
  assert.match(a.stdout, /^600\n/)
  for (const n of ['node-a', 'node-b']) {
    assert.is((await lab.exec(n, ['cat', '/srv/app/local/node.txt'])).stdout.split(':')[0], n)
    const bk = await lab.exec(n, [
      'sh',
      '-c',
      'cd /var/backups/app && sha256sum -c --quiet SHA256SUMS && for f in app-*.tar.gz; do tar -tzf "$f" | cmp - "$f.list"; done && ls /var/lib/app/archive | wc -l && cat /var/log/app/error.log',
    ])
    assert.is(bk.code, 0, bk.stderr)
    assert.match(bk.stdout, /^1\n.*INFO/)
  }
})

test('web answers with the node name; db runs only on the primary', async () => {
  assert.is(await body(addr('node-a')), 'node-a')
  assert.is(await body(addr('node-b')), 'node-b')
  assert.is(await tcpAsk(addr('node-a'), 5432, 'ping\n'), 'db node-a\n')
  assert.not.ok(await tcpOpen(addr('node-b'), 5432, 500))
  assert.is((await lab.exec('node-a', [SVC, 'status', 'db'])).code, 0)
  assert.is((await lab.exec('node-b', [SVC, 'status', 'db'])).code, 3)
  assert.is((await lab.exec('node-b', [SVC, 'start', 'web'])).code, 0, 'start is idempotent')
})

test('the floating IP is on the primary', async () => {
  assert.is(await body(vip()), 'node-a')
  assert.is(await tcpAsk(vip(), 5432, 'ping\n'), 'db node-a\n')
  const s = await labStatus(lab.inv)
  assert.equal(
    s.floatingIps.map((f) => f.holders),
    [['node-a']],
  )
  assert.equal(
    s.nodes.map((n) => [n.name, n.power, n.link, n.sshd, n.services]),
    [
      ['node-a', 'on', 'up', true, { web: true, db: true }],
      ['node-b', 'on', 'up', true, { web: true, db: false }],
    ],
  )
})

test('exec passes exit codes and stdin through', async () => {
  assert.is((await lab.exec('node-a', ['sh', '-c', 'exit 7'])).code, 7)
  assert.is((await lab.exec('node-b', ['cat'], { input: 'hello' })).stdout, 'hello')
  assert.is((await lab.exec('node-b', ['no-such-command-here'])).code, 127)
  await rejects(lab.exec('node-z', ['true']), (e: unknown) => e instanceof InputError)
})

test('isolate cuts the cable, heal restores it', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  assert.not.ok(await tcpOpen(addr('node-b'), 22, 500))
  assert.ok(nsPids(ns('node-b')).length >= 3, 'its processes keep running')
  assert.is((await labStatus(lab.inv)).nodes[1].link, 'isolated')
  await labFault(lab.inv, 'heal', 'node-b')
  await waitFor('node-b after heal', () => tcpOpen(addr('node-b'), 22, 500), 5000)
  assert.is(await body(addr('node-b')), 'node-b')
})

test('kill powers the primary off; start brings sshd and web back, not db or the VIP', async () => {
  await labFault(lab.inv, 'kill', 'node-a')
  assert.equal(nsPids(ns('node-a')), [])
  for (const [h, p] of [
    [addr('node-a'), 22],
    [addr('node-a'), 8080],
    [vip(), 8080],
    [vip(), 5432],
  ] as const)
    assert.not.ok(await tcpOpen(h, p, 300), `${h}:${p}`)
  let s = await labStatus(lab.inv)
  assert.equal([s.nodes[0].power, s.nodes[0].iface, s.nodes[0].addresses, s.floatingIps[0].holders], ['off', 'down', [], []])
  await rejects(lab.exec('node-a', ['true']), /powered off/)

  await labFault(lab.inv, 'start', 'node-a')
  assert.is((await ssh('node-a', 'hostname')).stdout, 'node-a\n')
  assert.is(await body(addr('node-a')), 'node-a')
  assert.is((await lab.exec('node-a', [SVC, 'status', 'db'])).code, 3)
  assert.not.ok(await tcpOpen(addr('node-a'), 5432, 300))
  s = await labStatus(lab.inv)
  assert.equal([s.nodes[0].power, s.floatingIps[0].holders], ['on', []])
})

test('a second lab on an overlapping subnet is refused and builds nothing', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-overlap-'))
  try {
    const json = JSON.parse(readFileSync(lab.file, 'utf8'))
    json.lab.name = `${json.lab.name}o`
    json.lab.controller = json.pairs[0].nodes[1].address.replace(/\.\d+$/, (m: string) => `.${Number(m.slice(1)) + 2}`)
    writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(json))
    const other = loadInventory(path.join(dir, 'lab.json'))
    await rejects(labUp(other), (e: unknown) => e instanceof RefusedError && /overlaps/.test((e as Error).message))
    assert.equal(
      listNamespaces().filter((n) => n.startsWith(`hp-${json.lab.name}-`)),
      [],
    )
    assert.is((await sh('ip', ['link', 'show', rootVeth(json.lab.name)])).code, 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('up on a running lab rebuilds it (idempotent)', async () => {
  await labUp(lab.inv)
  assert.is(await body(vip()), 'node-a')
  assert.is((await ssh('node-b', 'hostname')).stdout, 'node-b\n', 'the new pins are in place')
})

test('playbook: exec exit code, unknown node, status --json, not root', async () => {
  // The unprivileged run gets its own TMPDIR, so tsx's cache for uid 65534 goes away with it.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hapair-nobody-'))
  chownSync(tmp, 65534, 65534)
  const [seven, unknown, status, notRoot] = await Promise.all([
    playbook(['exec', 'node-a', '--inventory', lab.file, '--', 'sh', '-c', 'exit 7'], true),
    playbook(['exec', 'node-q', '--inventory', lab.file, '--', 'true']),
    playbook(['status', '--json', '--inventory', lab.file]),
    sh('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', 'playbooks/lab.ts', 'status'], {
      cwd: root,
      env: { ...process.env, HOME: tmp, TMPDIR: tmp },
    }),
  ]).finally(() => rmSync(tmp, { recursive: true, force: true }))
  assert.is(seven.code, 7, seven.stderr)
  assert.is(unknown.code, 2)
  assert.match(unknown.stderr, /no node named "node-q"/)
  assert.is(status.code, 0, status.stderr)
  assert.is(JSON.parse(status.stdout).nodes.length, 2)
  assert.is(notRoot.code, 2)
  assert.is(notRoot.stderr.trim(), 'lab needs root: it creates network namespaces; run as root')
})

test('down leaves nothing behind', async () => {
  const plan = labPlan(lab.inv)
  const pids = plan.nodes.flatMap((n) => nsPids(n.ns))
  assert.ok(pids.length >= 7)
  await lab.down()
  assert.equal(
    listNamespaces().filter((n) => n.startsWith(`hp-${plan.lab}-`)),
    [],
  )
  assert.is((await sh('ip', ['link', 'show', plan.rootVeth])).code, 1)
  assert.equal(
    pids.filter((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ')),
    [],
  )
  assert.not.ok(existsSync(plan.stateDir))
  assert.not.ok(existsSync(path.dirname(lab.file)))
  assert.not.ok(existsSync(path.join(SLOT_DIR, String(lab.slot))))
  assert.equal((await sh('ip', ['-j', 'addr'])).stdout.match(/198\.51\.100\.\d+/g)?.filter((a) => a === plan.controller) ?? [], [])
})

test.run()
