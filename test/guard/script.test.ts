// The guard's script and config, without a lab: hostile inventory values come back unchanged from
// the config in every shell a node may have, nothing in them runs when the config is read, and the
// guard itself (run here against a fake `ip` on PATH, in a temp state dir with a hostile name)
// does nothing while disarmed or armed, and gives everything up exactly once when the lease runs out.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { configText, guardConfig, guardScript, type GuardConfig } from '../../lib/guard/script.ts'
import { LEDGER_EXIT, ledgerWriteScript, ledgerReadScript, leaseWriteScript, parseLedger, parseLease } from '../../lib/guard/lease.ts'
import { launcherPath, launcherText, startScript, unitName, unitTemplate } from '../../lib/guard/install.ts'
import { parseGuardStatus, steppedDownForLease, guardStatusScript } from '../../lib/guard/status.ts'
import type { Pair } from '../../lib/inventory/schema.ts'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hapair-guard-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))

const MARK = path.join(tmp, 'pwned')
const hostileStop = `rm -f "$SVC_RUNNING"; printf '%s\\n' "it's \\"stopped\\" $(echo sub) \`echo tick\`" >> "$SVC_LOG"`
const hostileName = `db'; touch ${MARK}; echo '`
// A state dir whose name is itself an attack on a careless config writer.
const stateDir = path.join(tmp, `st ate'$(touch ${MARK})\`touch ${MARK}\`"x`)

function pair(over: Partial<Pair> = {}): Pair {
  return {
    name: 'demo',
    primary: 'node-a',
    stateDir,
    nodes: [
      { name: 'node-a', address: '198.51.100.11', interface: 'hpfake0' },
      { name: 'node-b', address: '198.51.100.12', interface: 'hpfake0' },
    ],
    floatingIps: [
      { address: '198.51.100.20', prefix: 24, driver: 'linux' },
      { address: '198.51.100.21', driver: 'hcloud', hcloud: { floatingIpId: 1 } },
    ],
    services: [
      { name: 'web', start: 'x', stop: 'never-run-for-a-non-singleton', status: 'true', checks: [{ protocol: 'command', command: 'true' }] },
      { name: 'db', singleton: true, start: 'x', stop: hostileStop, status: '[ -f "$SVC_RUNNING" ]', checks: [{ protocol: 'command', command: 'true' }] },
    ],
    ...over,
  } as Pair
}

test('the config holds only the linux addresses and the singletons, with defaults filled in', () => {
  const c = guardConfig(pair(), pair().nodes[0])
  assert.equal(c.addresses, [{ address: '198.51.100.20', prefix: 24, iface: 'hpfake0', announcerPid: '/run/hapair/garp-198_51_100_20.pid' }])
  assert.equal(
    c.singletons.map((s) => s.name),
    ['db'],
  )
  assert.is(c.stateDir, stateDir)
  assert.is(guardConfig({ ...pair(), stateDir: undefined }, pair().nodes[0]).stateDir, '/var/lib/hapair/demo')
})

// Every value must reach the guard exactly as written, whichever sh the node has.
for (const shell of ['sh', 'dash', 'bash']) {
  test(`${shell}: hostile values read back unchanged from the config, and nothing in them runs`, () => {
    const c: GuardConfig = {
      pair: 'demo',
      node: 'node-a',
      stateDir,
      pollMs: 100,
      addresses: [{ address: '198.51.100.20', prefix: 24, iface: 'hpfake0', announcerPid: `/run/x $(touch ${MARK})` }],
      singletons: [
        { name: hostileName, status: `test -f '$(touch ${MARK})'`, stop: hostileStop },
        { name: 'two\nlines', status: '', stop: '`touch x`' },
      ],
    }
    const file = path.join(tmp, `conf-${shell}`)
    writeFileSync(file, configText(c))
    const dump = `guard_address() { printf 'A\\0%s\\0' "$@"; }; guard_singleton() { printf 'S\\0%s\\0' "$@"; }
. "$1"; printf 'V\\0%s\\0' "$GUARD_PAIR" "$GUARD_NODE" "$GUARD_STATE_DIR" "$GUARD_POLL"; guard_addresses; guard_singletons`
    const out = execFileSync(shell, ['-c', dump, 'sh', file]).toString('utf8').split('\0').slice(0, -1)
    assert.equal(out, [
      'V',
      'demo',
      'V',
      'node-a',
      'V',
      stateDir,
      'V',
      '0.100',
      'A',
      '198.51.100.20',
      'A',
      '24',
      'A',
      'hpfake0',
      'A',
      `/run/x $(touch ${MARK})`,
      'S',
      hostileName,
      'S',
      `test -f '$(touch ${MARK})'`,
      'S',
      hostileStop,
      'S',
      'two\nlines',
      'S',
      '',
      'S',
      '`touch x`',
    ])
    assert.not.ok(existsSync(MARK), 'reading the config ran a command')
  })
}

test('the lease and ledger parsers take only what the scripts write', () => {
  assert.equal(
    [...parseLedger('node-a 1700000000000 3 armed\ngarbage\nnode-b 12 0 disarmed\nnode-c x 1 armed\n')],
    [
      ['node-a', { until: 1700000000000, epoch: 3, state: 'armed' }],
      ['node-b', { until: 12, epoch: 0, state: 'disarmed' }],
    ],
  )
  assert.equal(parseLease('1700000000000 4\n'), { until: 1700000000000, epoch: 4 })
  assert.is(parseLease('soon 4'), undefined)
})

// ---- the guard itself, locally: a fake `ip` on PATH (first: the guard only appends the system dirs)

const bin = path.join(tmp, 'bin')
mkdirSync(bin, { recursive: true })
writeFileSync(
  path.join(bin, 'ip'),
  `#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_IP_LOG"
case "$1 $2" in
  "-o addr") [ -f "$FAKE_IP_HELD" ] && echo "2: hpfake0    inet 198.51.100.20/24 scope global hpfake0"; exit 0 ;;
  "addr del") [ -f "$FAKE_IP_HELD" ] || { echo "RTNETLINK answers: Cannot assign requested address" >&2; exit 2; }; rm -f "$FAKE_IP_HELD"; exit 0 ;;
esac
exit 1
`,
)
chmodSync(path.join(bin, 'ip'), 0o755)

mkdirSync(stateDir, { recursive: true })
const files = {
  script: path.join(stateDir, 'guard.sh'),
  config: path.join(stateDir, 'guard.conf'),
  held: path.join(tmp, 'held'),
  ipLog: path.join(tmp, 'ip.log'),
  running: path.join(tmp, 'running'),
  svcLog: path.join(tmp, 'svc.log'),
}
const lease = path.join(stateDir, 'lease')
const stateFile = path.join(stateDir, 'guard.state')
const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(what: string, ok: () => boolean, ms = 3000) {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; state: ${read(stateFile)} log: ${read(path.join(stateDir, 'guard.log'))}`)
    await sleep(20)
  }
}

let guard: ChildProcess | undefined
let out = ''
function startGuard(p: Pair = pair()) {
  writeFileSync(files.script, guardScript())
  writeFileSync(files.config, configText(guardConfig(p, p.nodes[0])))
  guard = spawn('sh', [files.script, files.config], {
    env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_IP_LOG: files.ipLog, FAKE_IP_HELD: files.held, SVC_RUNNING: files.running, SVC_LOG: files.svcLog },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  guard.stdout!.on('data', (d) => (out += d))
  guard.stderr!.on('data', (d) => (out += d))
}
test.after(() => {
  if (guard?.pid)
    try {
      process.kill(guard.pid, 'SIGKILL')
    } catch {
      /* gone */
    }
})

test('guard: no lease file is disarmed: it gives up nothing', async () => {
  rmSync(lease, { force: true })
  writeFileSync(files.held, '')
  writeFileSync(files.running, '')
  startGuard()
  await until('the disarmed state', () => read(stateFile).startsWith('disarmed '))
  await sleep(300)
  assert.ok(existsSync(files.held) && existsSync(files.running), 'a disarmed guard released something')
  assert.is(read(files.svcLog), '')
  assert.is(Number(read(path.join(stateDir, 'guard.pid')).trim()), guard!.pid)
})

test('guard: a fresh lease is armed; when it runs out the address goes and the singleton stops, once', async () => {
  const u = Date.now() + 600
  writeFileSync(lease, `${u} 7\n`)
  await until('the armed state', () => read(stateFile).startsWith(`armed ${u} 7`))
  assert.ok(existsSync(files.held) && existsSync(files.running))
  await until('the step-down', () => read(stateFile).startsWith('stepped-down '))
  const gone = Date.now()
  assert.not.ok(existsSync(files.held), 'the address is still held')
  assert.not.ok(existsSync(files.running), 'the singleton still runs')
  assert.ok(gone - u < 600, `stepped down ${gone - u} ms after the deadline`)
  assert.match(read(files.ipLog), /^addr del 198\.51\.100\.20\/24 dev hpfake0$/m)
  assert.is(read(files.svcLog), `it's "stopped" sub tick\n`)
  assert.match(
    read(path.join(stateDir, 'guard.log')),
    new RegExp(`stepped-down: pair=demo node=node-a until=${u} epoch=7 late_ms=\\d+ took_ms=\\d+ released=198\\.51\\.100\\.20 stopped=db`),
  )
  assert.match(out, /stepped-down: /)
  // The same run-out lease never acts twice: the node may be made active again by hand.
  writeFileSync(files.held, '')
  writeFileSync(files.running, '')
  await sleep(400)
  assert.ok(existsSync(files.held) && existsSync(files.running), 'acted twice on one lease')
})

test('guard: a restarted guard remembers the lease it already gave up for; an unreadable lease counts as run out', async () => {
  process.kill(guard!.pid!, 'SIGKILL')
  startGuard()
  await sleep(400)
  assert.ok(existsSync(files.held) && existsSync(files.running), 'a restart acted on the old lease again')
  writeFileSync(lease, 'garbage\n')
  await until('the step-down on a bad lease', () => !existsSync(files.held) && !existsSync(files.running))
  await until('its state', () => read(stateFile).startsWith('stepped-down 0 0 '))
})

test('guard with a watchdog: petted while armed and after a step-down; not once a step-down cannot finish; TERM disarms it', async () => {
  process.kill(guard!.pid!, 'SIGKILL')
  const wd = path.join(tmp, 'watchdog')
  const size = () => read(wd).length
  const withDog = (stop: string) => {
    const p = pair({ fencing: { driver: 'lease', lease: { watchdog: { device: wd, timeoutMs: 2000 } } } } as Partial<Pair>)
    p.services = p.services!.map((x) => (x.singleton ? { ...x, stop } : x))
    return p
  }
  // A step-down that completes: the node is safe, petting goes on.
  writeFileSync(files.held, '')
  writeFileSync(files.running, '')
  let u = Date.now() + 500
  writeFileSync(lease, `${u} 8\n`)
  startGuard(withDog(hostileStop))
  await until('pets while armed', () => size() >= 2)
  assert.match(read(wd), /^\.+$/)
  await until('the step-down', () => read(stateFile).startsWith(`stepped-down ${u} 8`))
  let n = size()
  await until('pets after it', () => size() > n + 1)
  // A singleton that will not stop: the guard cannot make the node safe, so it stops petting and
  // leaves the node to the watchdog's reset.
  process.kill(guard!.pid!, 'SIGKILL')
  writeFileSync(files.held, '')
  writeFileSync(files.running, '')
  u = Date.now() + 500
  writeFileSync(lease, `${u} 9\n`)
  startGuard(withDog('false'))
  await until('pets while armed', () => size() >= 2)
  await until('the failed step-down', () => /step-down incomplete: .*until=\d+ epoch=9 .*failed=db/.test(read(path.join(stateDir, 'guard.log'))))
  n = size()
  await sleep(500)
  assert.is(size(), n, 'petted the watchdog while still holding db past its lease')
  assert.ok(Date.now() > u)
  // Stopped on purpose: the magic close, so the watchdog does not reset a healthy node.
  const exited = new Promise((r) => guard!.once('exit', r))
  process.kill(guard!.pid!, 'SIGTERM')
  await exited
  assert.match(read(wd), /V$/)
  rmSync(files.running, { force: true })
  startGuard()
  await until('the plain guard again', () => Number(read(path.join(stateDir, 'guard.pid')).trim()) === guard!.pid)
})

const sh = (script: string) => {
  try {
    return { code: 0, out: execFileSync('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() }
  } catch (e: any) {
    return { code: e.status as number, out: String(e.stdout) }
  }
}

test('ledger (run here, in the hostile state dir): only ever raised, per active node; refused while the pair is locked', () => {
  const p = pair()
  assert.equal(sh(ledgerWriteScript(p, 'node-a', 1000, 1, 'armed')), { code: 0, out: 'ok 1000 1 armed\n' })
  assert.equal(sh(ledgerWriteScript(p, 'node-a', 900, 2, 'armed')), { code: 0, out: 'ok 1000 1 armed\n' }, 'a late, lower renewal never lowers it')
  assert.equal(sh(ledgerWriteScript(p, 'node-b', 5, 1, 'armed')).code, 0)
  assert.equal(sh(ledgerWriteScript(p, 'node-a', 0, 0, 'disarmed')), { code: 0, out: 'ok 1000 1 disarmed\n' })
  assert.equal(sh(ledgerWriteScript(p, 'node-a', 2000, 3, 'armed')), { code: 0, out: 'ok 2000 3 armed\n' })
  mkdirSync(path.join(stateDir, 'lock'))
  try {
    const r = sh(ledgerWriteScript(p, 'node-a', 3000, 4, 'armed'))
    assert.is(r.code, LEDGER_EXIT.locked)
  } finally {
    rmSync(path.join(stateDir, 'lock'), { recursive: true })
  }
  const l = parseLedger(sh(ledgerReadScript(p)).out)
  assert.equal(l.get('node-a'), { until: 2000, epoch: 3, state: 'armed' })
  assert.equal(l.get('node-b'), { until: 5, epoch: 1, state: 'armed' })
  assert.not.ok(existsSync(MARK))
})

test('lease write: refused (exit 11) where no guard runs; the status script sees the guard, the lease and the step-down', () => {
  const p = pair()
  assert.is(sh(leaseWriteScript(p, Date.now() + 60_000, 9, true)).code, 0)
  assert.match(read(lease), /^\d+ 9\n$/)
  const st = parseGuardStatus('node-a', sh(guardStatusScript(p)).out)
  assert.equal(
    { installed: st.installed, running: st.running, pid: st.pid, armed: st.armed, epoch: st.leaseEpoch },
    { installed: true, running: true, pid: guard!.pid, armed: true, epoch: 9 },
  )
  assert.ok(st.remainingMs! > 50_000 && st.remainingMs! <= 60_000, String(st.remainingMs))
  assert.match(st.lastStepDown ?? '', /stepped-down: pair=demo/)
  process.kill(guard!.pid!, 'SIGKILL')
  guard = undefined
  assert.is(sh(leaseWriteScript(p, Date.now() + 60_000, 10, true)).code, LEDGER_EXIT.guardDown)
  assert.match(read(lease), / 9\n$/, 'the lease was written although no guard runs')
  assert.is(parseGuardStatus('node-a', sh(guardStatusScript(p)).out).running, false)
})

test('install: the start scripts parse in sh, with and without systemd; the launcher runs the guard from a hostile state dir', () => {
  const p = pair()
  for (const o of [{}, { systemd: false }, { systemd: false, restart: false }, { restart: false }]) execFileSync('sh', ['-n', '-c', startScript(p, o)])
  const dir = path.join(tmp, `launch 'x' $(touch ${MARK})`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'guard.sh'), 'printf "%s|%s" "$0" "$1"')
  const launcher = path.join(tmp, 'launcher.sh')
  writeFileSync(launcher, launcherText({ name: 'demo', stateDir: dir }))
  assert.is(execFileSync('sh', [launcher]).toString(), `${dir}/guard.sh|${dir}/guard.conf`)
  assert.not.ok(existsSync(MARK))
  const unit = unitTemplate()
  assert.match(unit, /^ExecStart=\/bin\/sh \/etc\/hapair\/guard\/%i\.sh$/m)
  assert.match(unit, /^Restart=always$/m)
  assert.is(launcherPath(p), '/etc/hapair/guard/demo.sh')
  assert.is(unitName(p), 'hapair-guard@demo.service')
})

test('status parsing: armed, run out and stepped down', () => {
  const s = parseGuardStatus(
    'node-a',
    'now=1000\ninstalled=1\npid=42\nmanager=setsid\nlease=900 3\nstate=stepped-down 900 3 950\nstepdown=2026 stepped-down: x\n',
  )
  assert.equal({ running: s.running, pid: s.pid, armed: s.armed, remainingMs: s.remainingMs }, { running: true, pid: 42, armed: true, remainingMs: -100 })
  assert.ok(steppedDownForLease(s))
  assert.not.ok(steppedDownForLease(parseGuardStatus('node-a', 'now=1000\nlease=1900 3\nstate=armed 1900 3 950\n')))
  assert.not.ok(
    steppedDownForLease(parseGuardStatus('node-a', 'now=1000\nlease=900 4\nstate=stepped-down 900 3 950\n')),
    'a newer lease is not the one given up for',
  )
  const d = parseGuardStatus('node-b', 'now=1\nmanager=setsid\n')
  assert.equal({ running: d.running, installed: d.installed, armed: d.armed }, { running: false, installed: false, armed: false })
})

test.run()
