// The files a provisioned node starts with (lib/provision/node-keys.ts), and the forced command
// of the peers' sync keys run as sshd would run it: SSH_ORIGINAL_COMMAND set to what the real
// rsync sends for each of hapair's hop command lines, through a stand-in for ssh.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ed25519Pair } from '../helpers/ed25519.ts'
import { authorizedSyncLines, nodeKnownHostsText, parsePublicKey, SYNC_RECEIVE, SYNC_RECEIVE_SCRIPT } from '../../lib/provision/node-keys.ts'
import { comparePins } from '../../lib/sync/pin.ts'
import { deleteArgv, rsyncArgv, type RsyncOptions } from '../../lib/sync/rsync.ts'
import { followArgv } from '../../lib/sync/follow/ship.ts'
import type { SyncItem } from '../../lib/inventory/schema.ts'
import { InputError } from '../../lib/errors.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-node-keys-'))

test("test keys are OpenSSH's own format: ssh-keygen derives the same public key and fingerprint", () => {
  const k = ed25519Pair('c')
  const file = path.join(dir, 'id')
  writeFileSync(file, k.privateKeyOpenssh, { mode: 0o600 })
  assert.is(execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' '), k.publicKeyOpenssh.trim())
  writeFileSync(`${file}.pub`, k.publicKeyOpenssh)
  assert.is(execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1], k.fingerprint)
  assert.is(parsePublicKey(k.publicKeyOpenssh, 'k').fingerprint, k.fingerprint)
})

test('parsePublicKey: only ssh-ed25519 public key lines', () => {
  for (const bad of ['', 'ssh-rsa AAAAB3NzaC1yc2E=', '-----BEGIN OPENSSH PRIVATE KEY-----', `ssh-ed25519 ${Buffer.from('x'.repeat(51)).toString('base64')}`]) {
    assert.throws(
      () => parsePublicKey(bad, 'where'),
      (e: Error) => e instanceof InputError && e.message.startsWith('where: '),
      bad,
    )
  }
})

test("a node's known_hosts pins its peers under the hop's alias: the sync's own pin check calls it pinned", () => {
  const peer = ed25519Pair()
  const text = nodeKnownHostsText('web', [{ name: 'web-2', hostPublicKey: peer.publicKeyOpenssh }])
  assert.is(text, `hapair-web@web-2 ${peer.publicKeyOpenssh.trim()}\n`)
  const blob = parsePublicKey(peer.publicKeyOpenssh, 'p').blob
  const v = comparePins(
    text,
    [{ type: 'ssh-ed25519', blob }],
    { name: 'web-2', address: '203.0.113.12', port: 22, alias: 'hapair-web@web-2' },
    { file: '/etc/hapair/known_hosts', source: 'web-1', others: [] },
  )
  assert.equal(v, { state: 'pinned' })
})

test('authorized_keys lines: restrict and the forced command, one per peer', () => {
  const a = ed25519Pair()
  const line = authorizedSyncLines('web', [{ name: 'web-1', syncPublicKey: a.publicKeyOpenssh }])
  assert.is(line, `restrict,command="${SYNC_RECEIVE}" ${a.publicKeyOpenssh.trim()} hapair-sync:web@web-1\n`)
})

// ---- the forced command, against the real rsync ----

const wrapper = path.join(dir, 'sync-receive')
writeFileSync(wrapper, SYNC_RECEIVE_SCRIPT)
chmodSync(wrapper, 0o755)
// What sshd does with a forced command: the client's command in SSH_ORIGINAL_COMMAND, the forced one run by the shell.
const fakeSsh = path.join(dir, 'ssh')
writeFileSync(
  fakeSsh,
  `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -F|-i|-o|-p|-l) shift 2 ;; -*) shift ;; *) break ;; esac; done
shift
SSH_ORIGINAL_COMMAND="$*" exec sh ${wrapper}
`,
)
chmodSync(fakeSsh, 0o755)

const tree = (name: string) => {
  const d = path.join(dir, name)
  mkdirSync(path.join(d, 'sub'), { recursive: true })
  return d
}

/** hapair's argv with the hop's ssh swapped for the stand-in and the target path for a local one (with -s the path is not on the command line). */
function viaWrapper(argv: string[], target: string): string[] {
  const out = [...argv]
  out[out.indexOf('-e') + 1] = fakeSsh
  out[out.length - 1] = `root@peer:${target}/`
  return out
}
const run = (argv: string[], input?: string) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input })

function options(src: string, extra: Partial<RsyncOptions> = {}): RsyncOptions {
  const item: SyncItem = { name: 'site', path: src, mirror: true }
  return {
    item,
    protect: [],
    target: { user: 'root', address: 'peer', port: 22, hostKeyAlias: 'hapair-web@peer' },
    keyFile: '/etc/hapair/sync_ed25519',
    knownHostsFile: '/etc/hapair/known_hosts',
    ioTimeoutSec: 10,
    ...extra,
  }
}

test('the forced command lets every hop hapair runs through: sync (mirror, held deletes), the delete pass, a follow batch', () => {
  const src = tree('src')
  const dst = tree('dst')
  writeFileSync(path.join(src, 'sub/a'), 'new\n')
  writeFileSync(path.join(dst, 'gone'), 'old\n')
  const sync = run(viaWrapper(rsyncArgv(options(src, { holdDeletes: true })), dst))
  assert.ok(sync.status === 0 || sync.status === 25, `${sync.status}: ${sync.stderr}`)
  assert.is(readFileSync(path.join(dst, 'sub/a'), 'utf8'), 'new\n')
  const del = run(viaWrapper(deleteArgv(options(src), false), dst))
  assert.is(del.status, 0, del.stderr)
  assert.throws(() => readFileSync(path.join(dst, 'gone')))
  writeFileSync(path.join(src, 'sub/b'), 'b\n')
  const follow = run(viaWrapper(followArgv({ ...options(src), deletes: true }), dst), 'sub/b\0')
  assert.is(follow.status, 0, follow.stderr)
  assert.is(readFileSync(path.join(dst, 'sub/b'), 'utf8'), 'b\n')
})

test('the forced command refuses a pull (--sender), an rsync without -s, and any other command', () => {
  const src = tree('src2')
  const dst = tree('dst2')
  writeFileSync(path.join(dst, 'secret'), 'peer data\n')
  const pull = run(['rsync', '-a', '-s', '-e', fakeSsh, 'root@peer:' + dst + '/', src + '/'])
  assert.is.not(pull.status, 0)
  assert.match(pull.stderr, /hapair sync key: refused/)
  assert.throws(() => readFileSync(path.join(src, 'secret')))
  const plain = run(['rsync', '-a', '-e', fakeSsh, src + '/', `root@peer:${dst}/`])
  assert.is.not(plain.status, 0)
  assert.match(plain.stderr, /hapair sync key: refused/)
  for (const cmd of [
    ['cat', '/etc/passwd'],
    ['rsync', '--server', '-s', '.', '/tmp'],
    ['rsync --server -slogDtpre.iLsfxCIvu; id'],
    ['rsync', '--server', '--daemon', '.'],
    [],
  ]) {
    const r = run([fakeSsh, 'peer', ...cmd])
    assert.is(r.status, 1, `${cmd.join(' ')}: ${r.stdout}`)
    assert.is(r.stdout, '')
    assert.match(r.stderr, /hapair sync key: refused/)
  }
})

test.run()
