// The pure parts of `hostkeys.ts pin`: the fingerprint as ssh-keygen prints it, the check of what
// an operator typed, and the rewrite of one host's known_hosts entry that leaves the rest alone.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, lstatSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { InputError } from '../lib/errors.ts'
import { keyType, parseFingerprint } from '../lib/host-key-scan.ts'
import { fingerprint, parseKnownHosts } from '../lib/known-hosts.ts'
import { hostFieldsFor, pinnedLines, replaceHostEntries, writeFileAtomic } from '../lib/known-hosts-edit.ts'
import { comparePins } from '../lib/sync/pin.ts'
import { HostKeyRefusedError, pinHostKey } from '../lib/hostkeys.ts'
import { parseInventory } from '../lib/inventory/load.ts'
import { SshPool } from '../lib/ssh.ts'
import { AUDIT_LOG, auditEntries } from './helpers/playbook.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-hostkeys-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

function keygen(type: string, bits?: number): { file: string; blob: Buffer; line: string } {
  const file = path.join(dir, `k-${type}-${randomBytes(3).toString('hex')}`)
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', 'test', '-f', file])
  const line = readFileSync(`${file}.pub`, 'utf8').trim()
  return { file, blob: Buffer.from(line.split(' ')[1], 'base64'), line }
}

for (const [type, bits, name] of [
  ['ed25519', undefined, 'ssh-ed25519'],
  ['ecdsa', 256, 'ecdsa-sha2-nistp256'],
  ['rsa', 2048, 'ssh-rsa'],
] as const) {
  test(`fingerprint and key type of a generated ${type} key are what ssh-keygen -lf prints`, () => {
    const k = keygen(type, bits)
    const printed = execFileSync('ssh-keygen', ['-lf', `${k.file}.pub`], { encoding: 'utf8' }).split(' ')[1]
    assert.match(printed, /^SHA256:/)
    assert.is(fingerprint(k.blob), printed)
    assert.is(keyType(k.blob), name)
    // What the operator copies from that output is accepted as it is.
    assert.is(parseFingerprint(printed), printed)
  })
}

test('parseFingerprint: padding is dropped; MD5, other digests, typos and wrong lengths are bad input naming the flag', () => {
  const fp = fingerprint(keygen('ed25519').blob)
  assert.is(parseFingerprint(`${fp}=`), fp)
  assert.is(parseFingerprint(` ${fp}\n`), fp)
  const bad: [string, RegExp][] = [
    ['MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48', /MD5/],
    ['16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48', /MD5/],
    [fp.slice(7), /does not start with SHA256:/],
    ['sha256:' + fp.slice(7), /does not start with SHA256:/],
    [fp.slice(0, -1), /not a SHA256 digest/],
    [fp + 'A', /not a SHA256 digest/],
    [fp.slice(0, -1) + '!', /not a SHA256 digest/],
    // 43 characters whose last one carries bits a 256-bit digest cannot have.
    [fp.slice(0, -1) + (fp.endsWith('B') ? 'C' : 'B'), /not a SHA256 digest/],
    ['', /does not start/],
  ]
  for (const [s, re] of bad) {
    try {
      parseFingerprint(s)
      assert.unreachable(`accepted ${s}`)
    } catch (e) {
      assert.instance(e, InputError, s)
      assert.match((e as Error).message, re, s)
      assert.match((e as Error).message, '--fingerprint')
    }
  }
})

const A = keygen('ed25519')
const B = keygen('ed25519')
const C = keygen('ed25519')
const key = (k: { line: string }) => k.line.split(' ').slice(0, 2).join(' ')
const ADDR = '198.51.100.12'
const fields = hostFieldsFor([ADDR, 'node-b'], 22)

test("replaceHostEntries: the node's lines go, the new one takes the first one's place, other lines stay byte for byte", () => {
  const text =
    [
      '# pinned by hand',
      `198.51.100.11 ${key(A)}`,
      `${ADDR} ${key(B)}`,
      '',
      `node-b,${ADDR} ${key(C)}`,
      `[${ADDR}]:22 ${key(C)}`,
      `@revoked 198.51.100.11 ${key(C)}`,
      `@revoked ${ADDR} ${key(C)}`,
      `@cert-authority *.example ${key(C)}`,
      `198.51.100.13   ${key(C)}   comment kept`,
    ].join('\n') + '\n'
  const r = replaceHostEntries(text, fields, [`${ADDR} ${key(A)}`], { keepRevoked: true })
  assert.is(r.changed, true)
  assert.is(
    r.text,
    [
      '# pinned by hand',
      `198.51.100.11 ${key(A)}`,
      `${ADDR} ${key(A)}`,
      '',
      `@revoked 198.51.100.11 ${key(C)}`,
      `@revoked ${ADDR} ${key(C)}`,
      `@cert-authority *.example ${key(C)}`,
      `198.51.100.13   ${key(C)}   comment kept`,
    ].join('\n') + '\n',
  )
  assert.equal(r.removed, [`${ADDR} ${key(B)}`, `node-b,${ADDR} ${key(C)}`, `[${ADDR}]:22 ${key(C)}`])
  // What the controller then trusts for the node: exactly the new key; the revocation stands.
  const known = parseKnownHosts(r.text, [ADDR, 'node-b'])
  assert.equal(
    known.keys.map((k) => fingerprint(k.blob)),
    [fingerprint(A.blob)],
  )
  assert.equal(
    known.revoked.map((k) => fingerprint(k.blob)),
    [fingerprint(C.blob)],
  )
  // Run again on its own output: nothing changes (what "already pinned" rests on).
  const again = replaceHostEntries(r.text, fields, [`${ADDR} ${key(A)}`], { keepRevoked: true })
  assert.equal([again.changed, again.text], [false, r.text])
})

test('replaceHostEntries: a host list keeps its other hosts; a hashed entry for the node goes, one for another host stays', () => {
  const salt = randomBytes(20)
  const hashed = (h: string) => `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(h).digest('base64')}`
  const text = `other.example,${ADDR},node-b ${key(B)}\n${hashed(ADDR)} ${key(B)}\n${hashed('198.51.100.11')} ${key(C)}\n!${ADDR} ${key(C)}`
  const r = replaceHostEntries(text, fields, [`${ADDR} ${key(A)}`], { keepRevoked: true })
  assert.is(r.text, `other.example ${key(B)}\n${ADDR} ${key(A)}\n${hashed('198.51.100.11')} ${key(C)}\n!${ADDR} ${key(C)}\n`)
  assert.is(r.removed.length, 2)
  assert.equal(
    parseKnownHosts(r.text, ['other.example']).keys.map((k) => k.blob),
    [B.blob],
  )
  assert.equal(
    parseKnownHosts(r.text, [ADDR]).keys.map((k) => k.blob),
    [A.blob],
  )
})

test('replaceHostEntries: no entry yet appends; an empty file gets one line; a port other than 22 only matches [host]:port', () => {
  assert.equal(
    replaceHostEntries(`198.51.100.11 ${key(A)}`, fields, [`${ADDR} ${key(B)}`], { keepRevoked: true }).text,
    `198.51.100.11 ${key(A)}\n${ADDR} ${key(B)}\n`,
  )
  assert.equal(replaceHostEntries('', fields, [`${ADDR} ${key(B)}`], { keepRevoked: true }), { text: `${ADDR} ${key(B)}\n`, changed: true, removed: [] })
  const on2222 = hostFieldsFor([ADDR], 2222)
  const r = replaceHostEntries(`${ADDR} ${key(A)}\n[${ADDR}]:2222 ${key(B)}\n`, on2222, [`[${ADDR}]:2222 ${key(C)}`], { keepRevoked: true })
  assert.is(r.text, `${ADDR} ${key(A)}\n[${ADDR}]:2222 ${key(C)}\n`)
  // Only the missing trailing newline differs: not a change worth a write.
  assert.is(replaceHostEntries(`${ADDR} ${key(A)}`, fields, [`${ADDR} ${key(A)}`], { keepRevoked: true }).changed, false)
})

test("a node's own file: legacy address lines and @revoked lines for the node go, the alias line comes in, and the sync accepts it", () => {
  const alias = 'hapair-demo@node-b'
  const text = `${ADDR} ${key(B)}\n@revoked ${ADDR} ${key(C)}\n198.51.100.11 ${key(A)}\nhapair-demo@node-a ${key(A)}\n`
  const r = replaceHostEntries(text, [alias, ...fields], [`${alias} ${key(A)}`], { keepRevoked: false })
  assert.is(r.text, `${alias} ${key(A)}\n198.51.100.11 ${key(A)}\nhapair-demo@node-a ${key(A)}\n`)
  const target = { name: 'node-b', address: ADDR, port: 22, alias }
  const scope = { file: '/var/lib/hapair/ssh/known_hosts', source: 'node-a', others: ['198.51.100.11', '[198.51.100.11]:22'] }
  assert.equal(comparePins(r.text, [{ type: 'ssh-ed25519', blob: A.blob }], target, scope), { state: 'pinned' })
  // Before the rewrite the very same check refuses the hop (this is what the pin repairs).
  assert.is(comparePins(text, [{ type: 'ssh-ed25519', blob: A.blob }], target, scope).state, 'conflict')
})

test('pinnedLines: which line, under which name, and the fingerprint', () => {
  const lines = pinnedLines(`# c\n198.51.100.11 ${key(A)}\nnode-b,${ADDR} ${key(B)}\n@revoked ${ADDR} ${key(C)}\nbroken\n`, fields)
  assert.equal(lines, [
    { line: 3, field: 'node-b', marker: undefined, type: 'ssh-ed25519', fingerprint: fingerprint(B.blob) },
    { line: 4, field: ADDR, marker: '@revoked', type: 'ssh-ed25519', fingerprint: fingerprint(C.blob) },
  ])
})

test('writeFileAtomic: replaces by rename keeping the mode, writes through a symlink, refuses a file changed since it was read', () => {
  const f = path.join(dir, 'known_hosts')
  writeFileSync(f, 'old\n', { mode: 0o600 })
  const before = readFileSync(f)
  const ino = statSync(f).ino
  writeFileAtomic(f, 'new\n', before)
  assert.is(readFileSync(f, 'utf8'), 'new\n')
  assert.is(statSync(f).mode & 0o777, 0o600)
  assert.is.not(statSync(f).ino, ino, 'a new file renamed over the old one, not rewritten in place')
  // Changed by someone else since `before` was read: left as it is.
  try {
    writeFileAtomic(f, 'lost\n', before)
    assert.unreachable('overwrote a changed file')
  } catch (e) {
    assert.match((e as Error).message, 'changed while it was being updated')
  }
  assert.is(readFileSync(f, 'utf8'), 'new\n')
  // A link is followed: the link stays a link, its target gets the text.
  const link = path.join(dir, 'link_known_hosts')
  symlinkSync(f, link)
  writeFileAtomic(link, 'via link\n', readFileSync(f))
  assert.ok(lstatSync(link).isSymbolicLink())
  assert.is(readFileSync(f, 'utf8'), 'via link\n')
  // A new file: created 0644, and no temp file is left anywhere.
  const fresh = path.join(dir, 'sub', 'known_hosts')
  writeFileAtomic(fresh, 'x\n', undefined)
  assert.is(statSync(fresh).mode & 0o777, 0o644)
  assert.equal(
    readdirSync(dir).filter((n) => n.includes('.hapair-')),
    [],
  )
  try {
    writeFileAtomic(fresh, 'y\n', undefined)
    assert.unreachable('created over an existing file')
  } catch (e) {
    assert.match((e as Error).message, 'changed')
  }
})

/** The lab inventory pointed at a temp known_hosts, with no node-to-node file: pin touches the controller's file only, and no node is asked. */
function soloInventory(known: string) {
  const json = JSON.parse(readFileSync(new URL('../inventory/lab.json', import.meta.url), 'utf8'))
  json.defaults.ssh.knownHostsFile = known
  delete json.pairs[0].sync.nodeKnownHostsFile
  json.pairs[0].sync.items = json.pairs[0].sync.items.filter((i: any) => i.transport === 'sftp')
  const inv = parseInventory(JSON.stringify(json), path.join(dir, 'inv.json'))
  return { inv, pair: inv.data.pairs[0], node: inv.data.pairs[0].nodes[1] }
}
const presenting =
  (...ks: { blob: Buffer }[]) =>
  async () =>
    ks.map((k) => ({ type: keyType(k.blob), blob: k.blob, fingerprint: fingerprint(k.blob) }))

test('pinHostKey: a mismatch or a revoked key writes nothing (exit 3); a match replaces the line; again: already pinned', async () => {
  const known = path.join(dir, 'solo_known_hosts')
  const addr = (n: number) => `198.51.100.1${n}`
  const original = `${addr(1)} ${key(A)}\n${addr(2)} ${key(B)}\n@revoked ${addr(2)} ${key(C)}\n`
  writeFileSync(known, original)
  // The log is the test process's: every test file run in this process may have written to it.
  const before = auditEntries(AUDIT_LOG).length
  const ours = () => auditEntries(AUDIT_LOG).slice(before)
  const { inv, pair, node } = soloInventory(known)
  const pool = new SshPool(inv)
  try {
    for (const [presented, re] of [
      [C, /HOST KEY MISMATCH/],
      [B, /HOST KEY MISMATCH/],
    ] as const) {
      const e = await pinHostKey(inv, pair, node, pool, { fingerprint: fingerprint(A.blob), scan: presenting(presented) }).catch((x) => x)
      assert.instance(e, HostKeyRefusedError)
      assert.is(e.exitCode, 3)
      for (const s of ['node-b', addr(2), fingerprint(A.blob), fingerprint(presented.blob)]) assert.ok(e.message.includes(s), `${s} in ${e.message}`)
      assert.match(e.message, re)
    }
    const revoked = await pinHostKey(inv, pair, node, pool, { fingerprint: fingerprint(C.blob), scan: presenting(C) }).catch((x) => x)
    assert.instance(revoked, HostKeyRefusedError)
    assert.match(revoked.message, '@revoked')
    assert.is(readFileSync(known, 'utf8'), original, 'nothing written by any refusal')
    // Several keys presented: the one with the fingerprint given is pinned, the others are not.
    const r = await pinHostKey(inv, pair, node, pool, { fingerprint: fingerprint(A.blob), scan: presenting(B, A) })
    assert.equal(
      [r.ok, r.alreadyPinned, r.files.map((f) => [f.where, f.state])],
      [
        true,
        false,
        [
          ['controller', 'updated'],
          ['node-a', 'skipped'],
        ],
      ],
    )
    assert.is(readFileSync(known, 'utf8'), `${addr(1)} ${key(A)}\n${addr(2)} ${key(A)}\n@revoked ${addr(2)} ${key(C)}\n`)
    assert.equal(
      ours().map((e) => [e.operation, e.fingerprint, e.ok]),
      [['hostkeys-pin', fingerprint(A.blob), true]],
      "one audit entry, in the test's own log",
    )
    const again = await pinHostKey(inv, pair, node, pool, { fingerprint: fingerprint(A.blob), scan: presenting(A) })
    assert.equal([again.ok, again.alreadyPinned, again.files[0].state], [true, true, 'already pinned'])
    assert.is(ours().length, 1, 'nothing changed, nothing audited')
  } finally {
    pool.close()
  }
})

test.run()
