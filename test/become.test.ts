import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BECOME_PROBE, becomeCommand, rsyncPath, sudoRefusal, SFTP_SERVER_SCRIPT } from '../lib/become.ts'
import { render } from '../lib/ssh.ts'
import { rsyncArgv, type RsyncOptions } from '../lib/sync/rsync.ts'
import { followArgv } from '../lib/sync/follow/ship.ts'

const hostile = ["'; rm -rf / #", '$(touch /tmp/pwned)', '`id`', 'a b', 'it\'s "quoted"', 'new\nline', '*', '-n', '', '\\back', 'a|b;c&&d']

// A stand-in for sudo in a real shell: drops -n and runs the rest as given, which is what the
// real one does once the rule allows it. What reaches it is exactly what the node's sudo gets.
const FAKE_SUDO = 'sudo() { [ "$1" = -n ] || { echo "no -n: $1" >&2; return 99; }; shift; "$@"; }; '

const runLine = (line: string) => execFileSync('sh', ['-c', FAKE_SUDO + line]).toString('utf8')

test('become sudo runs the rendered line through sudo -n /bin/sh -c, quoted once more', () => {
  const plain = render(['ip', 'addr', 'add', '198.51.100.20/24', 'dev', 'eth0'])
  assert.is(plain, 'ip addr add 198.51.100.20/24 dev eth0')
  assert.is(render(['ip', 'addr', 'add', '198.51.100.20/24', 'dev', 'eth0'], 'none'), plain)
  assert.is(render(['ip', 'addr'], 'sudo'), "sudo -n /bin/sh -c 'ip addr'")
  assert.is(render({ script: 'echo "$1"' }, 'sudo'), `sudo -n /bin/sh -c 'echo "$1"'`)
  assert.is(BECOME_PROBE, "sudo -n /bin/sh -c 'exit 0'")
})

test('a hostile value stays one argument through the become wrapper', () => {
  const out = runLine(render(['sh', '-c', 'printf "%s\\0" "$@"', 'x', ...hostile], 'sudo'))
  assert.equal(out.split('\0').slice(0, -1), hostile)
})

test('a script with positional arguments keeps them through the wrapper', () => {
  const out = runLine(becomeCommand(`set -- ${hostile.map((h) => `'${h.replace(/'/g, `'\\''`)}'`).join(' ')}; printf '%s\\0' "$@"`, 'sudo'))
  assert.equal(out.split('\0').slice(0, -1), hostile)
})

test("the receiving rsync's --rsync-path hands rsync's server arguments on unchanged", () => {
  assert.is(rsyncPath('none'), undefined)
  const p = rsyncPath('sudo')!
  // A stand-in rsync that prints what it was given; rsync puts the path in front of its server arguments.
  const bin = mkdtempSync(path.join(os.tmpdir(), 'hapair-become-'))
  writeFileSync(path.join(bin, 'rsync'), `#!/bin/sh\nprintf '%s\\0' rsync "$@"\n`, { mode: 0o755 })
  let out: string
  try {
    out = execFileSync('sh', ['-c', `${FAKE_SUDO}${p} --server -logDtpre.iLsfxCIvu . /srv/app/`], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    }).toString('utf8')
  } finally {
    rmSync(bin, { recursive: true, force: true })
  }
  assert.equal(out.split('\0').slice(0, -1), ['rsync', '--server', '-logDtpre.iLsfxCIvu', '.', '/srv/app/'])
})

test('rsync gets --rsync-path only for a target with become sudo', () => {
  const base: RsyncOptions = {
    item: { name: 'app', path: '/srv/app' },
    protect: [],
    target: { user: 'hapair', address: '198.51.100.12', port: 22, hostKeyAlias: 'demo/node-b' },
    knownHostsFile: '/var/lib/hapair/ssh/known_hosts',
    ioTimeoutSec: 30,
  }
  assert.not.ok(rsyncArgv(base).some((a) => a.startsWith('--rsync-path')))
  const argv = rsyncArgv({ ...base, target: { ...base.target, become: 'sudo' } })
  assert.ok(argv.includes(`--rsync-path=${rsyncPath('sudo')}`))
  assert.is(argv.at(-1), 'hapair@198.51.100.12:/srv/app/')
  // Before the ends: after "--" it would be a file name.
  assert.ok(argv.indexOf(`--rsync-path=${rsyncPath('sudo')}`) < argv.indexOf('--'))
  // The follow-mode batches take the same hop.
  assert.not.ok(followArgv({ ...base, deletes: false }).some((a) => a.startsWith('--rsync-path')))
  const f = followArgv({ ...base, target: { ...base.target, become: 'sudo' }, deletes: false })
  assert.ok(f.indexOf(`--rsync-path=${rsyncPath('sudo')}`) > -1 && f.indexOf(`--rsync-path=${rsyncPath('sudo')}`) < f.indexOf('--'))
})

test('the SFTP server is started as root by the same rule', () => {
  assert.ok(SFTP_SERVER_SCRIPT.startsWith("sudo -n /bin/sh -c '"))
  assert.match(SFTP_SERVER_SCRIPT, /\/usr\/lib\/openssh\/sftp-server/)
})

test("sudo's own line is the cause named", () => {
  assert.is(sudoRefusal('sudo: a password is required\n'), 'sudo: a password is required')
  assert.is(
    sudoRefusal('We trust you have received the usual lecture\nsudo: a terminal is required to read the password\n'),
    'sudo: a terminal is required to read the password',
  )
  assert.is(sudoRefusal('sudo: unable to resolve host node-b: Name or service not known\nsudo: a password is required\n'), 'sudo: a password is required')
  assert.is(sudoRefusal('sh: 1: sudo: not found\n'), 'sh: 1: sudo: not found')
  assert.is(sudoRefusal(''), '')
})

test.run()
