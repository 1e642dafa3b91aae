// verify and backup-verify as a user runs them, for every bad input a user can give: exit 2,
// one readable message, and not a single connection to any node (a sentinel sshd port counts them).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { playbook, type PlaybookRun } from '../helpers/playbook.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-verify-input-'))
let sentinel: net.Server
let touched = 0
const inv = (name: string, mutate: (j: any) => void = () => {}) => {
  const j = JSON.parse(readFileSync('inventory/lab.json', 'utf8'))
  delete j.$schema
  delete j.lab
  j.pairs[0].fencing = { driver: 'none' } // the lab's fencing needs the lab block
  const port = (sentinel.address() as net.AddressInfo).port
  j.pairs[0].nodes[0].address = '127.0.0.2'
  j.pairs[0].nodes[1].address = '127.0.0.3'
  j.defaults.ssh = { ...j.defaults.ssh, port, connectTimeoutMs: 1000, knownHostsFile: path.join(dir, 'known_hosts'), keyFile: undefined }
  mutate(j)
  const file = path.join(dir, name)
  writeFileSync(file, JSON.stringify(j, null, 2))
  return file
}
test.before(async () => {
  sentinel = net
    .createServer((s) => {
      touched++
      s.destroy()
    })
    .listen(0, '0.0.0.0')
  await new Promise((r) => sentinel.once('listening', r))
  writeFileSync(path.join(dir, 'known_hosts'), '')
})
test.after(() => {
  sentinel.close()
  rmSync(dir, { recursive: true, force: true })
})

const STACK = /^\s+at .+:\d+:\d+\)?$/m
function badInput(r: PlaybookRun, re: RegExp) {
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, re)
  assert.not.match(r.stderr, STACK)
  assert.is(r.stdout, '')
}

const cases: [string, 'verify' | 'backup-verify', () => string[], RegExp][] = [
  [
    'unknown check name',
    'verify',
    () => ['--inventory', inv('a.json'), '--check', 'links,lnks'],
    /^unknown check: lnks \(checks: links, latency, clock-skew, paths, identical-files, sync-drift, records, floating-ip, singletons, pg-primary, pg-lag, pg-slots, pg-timeline, pg-rewind, backups, archiving, error-log\)/,
  ],
  ['unknown check name as a bare word', 'verify', () => ['--inventory', inv('a.json'), 'paths', 'sync'], /^unknown check: sync/],
  ['unknown option', 'verify', () => ['--inventory', inv('a.json'), '--deeep'], /^unknown option: --deeep/],
  ['missing inventory', 'verify', () => ['--inventory', path.join(dir, 'absent.json')], /cannot read inventory: no such file/],
  [
    'invalid inventory',
    'verify',
    () => [
      '--inventory',
      inv('bad.json', (j) => {
        j.pairs[0].backups[0].maxAgeHours = -1
      }),
    ],
    /invalid inventory/,
  ],
  ['unknown pair', 'verify', () => ['--inventory', inv('a.json'), '--pair', 'nope'], /no pair named "nope"/],
  [
    'error-log pattern that is not a regular expression',
    'verify',
    () => [
      '--inventory',
      inv('re.json', (j) => {
        j.pairs[0].errorLogs[0].patterns.push('(unclosed')
      }),
    ],
    /errorLogs\/0\/patterns\/3: invalid regular expression/,
  ],
  [
    'JUnit file in a directory that does not exist',
    'verify',
    () => ['--inventory', inv('a.json'), '--junit', path.join(dir, 'no', 'j.xml')],
    /^--junit .*: directory .* is not writable \(ENOENT\)/,
  ],
  ['metrics without a file name', 'verify', () => ['--inventory', inv('a.json'), '--metrics='], /^--metrics needs a file name/],
  ['backup-verify: unknown backup', 'backup-verify', () => ['--inventory', inv('a.json'), '--check', 'db'], /^unknown backup: db \(declared: app\)/],
  [
    'backup-verify: nothing declared',
    'backup-verify',
    () => [
      '--inventory',
      inv('nob.json', (j) => {
        delete j.pairs[0].backups
      }),
    ],
    /no backups declared in demo: nothing to verify/,
  ],
  ['backup-verify: unknown option', 'backup-verify', () => ['--inventory', inv('a.json'), '--deep'], /^unknown option: --deep/],
]
for (const [name, pb, args, re] of cases) {
  test(`bad input, exit 2, no node touched: ${name}`, async () => {
    badInput(await playbook(pb, args()), re)
    assert.is(touched, 0, 'a node was contacted')
  })
}

test('--help lists every check and the exit codes (exit 0)', async () => {
  const r = await playbook('verify', ['--help'])
  assert.is(r.code, 0)
  assert.match(
    r.stdout,
    /checks: links, latency, clock-skew, paths, identical-files, sync-drift, records, floating-ip, singletons, pg-primary, pg-lag, pg-slots, pg-timeline, pg-rewind, backups, archiving, error-log/,
  )
  assert.match(r.stdout, /exit 0: .*; 1: .*; 2: bad input/)
})

// The control: good input does reach the nodes, so the sentinel above would have seen a touch.
test('good input contacts the nodes; nodes that do not speak SSH fail as unreachable (exit 1)', async () => {
  const r = await playbook('verify', ['--inventory', inv('a.json'), '--check', 'paths', '--json'])
  assert.is(r.code, 1, r.stderr)
  const out = JSON.parse(r.stdout)
  assert.equal(
    out.checks.map((c: any) => `${c.node}/${c.check}/${c.ok}`),
    ['node-a/paths/false', 'node-b/paths/false'],
  )
  assert.match(out.checks[0].detail, /^unreachable: node-a \(127\.0\.0\.2\)/)
  assert.ok(touched > 0)
})

test.run()
