import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHmac, randomBytes } from 'node:crypto'
import { checkHostKey, fingerprint, parseKnownHosts } from '../lib/known-hosts.ts'

const keyA = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'base64')
const keyB = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 'base64')
const line = (host: string, k: Buffer) => `${host} ssh-ed25519 ${k.toString('base64')}`

function hashed(host: string, k: Buffer) {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(host).digest('base64')} ssh-ed25519 ${k.toString('base64')}`
}

test('fingerprint is OpenSSH SHA256 without padding', () => {
  assert.match(fingerprint(keyA), /^SHA256:[A-Za-z0-9+/]{43}$/)
})

test('pinned key accepted; another key is a mismatch naming both fingerprints', () => {
  const known = parseKnownHosts(line('198.51.100.11', keyA), ['198.51.100.11'])
  assert.equal(checkHostKey(known, keyA), { ok: true, fingerprint: fingerprint(keyA) })
  const v = checkHostKey(known, keyB)
  assert.equal(v, { ok: false, reason: 'mismatch', presented: fingerprint(keyB), expected: [fingerprint(keyA)] })
})

test('a host with no entry is unknown, never accepted', () => {
  const known = parseKnownHosts(line('198.51.100.12', keyA), ['198.51.100.11'])
  const v = checkHostKey(known, keyA)
  assert.is(v.ok, false)
  assert.is((v as any).reason, 'unknown')
})

test('hashed entries, host lists, ports, comments and @revoked', () => {
  const text = [
    '# comment',
    '',
    hashed('198.51.100.11', keyA),
    line('other,198.51.100.13', keyB),
    line('[198.51.100.14]:2222', keyA),
    `@revoked ${line('198.51.100.11', keyB)}`,
  ].join('\n')
  assert.ok(checkHostKey(parseKnownHosts(text, ['198.51.100.11']), keyA).ok)
  assert.is((checkHostKey(parseKnownHosts(text, ['198.51.100.11']), keyB) as any).reason, 'revoked')
  assert.ok(checkHostKey(parseKnownHosts(text, ['198.51.100.13']), keyB).ok)
  assert.ok(checkHostKey(parseKnownHosts(text, ['198.51.100.14'], 2222), keyA).ok)
  assert.is((checkHostKey(parseKnownHosts(text, ['198.51.100.14']), keyA) as any).reason, 'unknown', 'port 22 must not match a [host]:2222 entry')
})

test.run()
