import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import type { KnownKey } from '../../lib/known-hosts.ts'
import { comparePins } from '../../lib/sync/pin.ts'

const key = (): KnownKey => ({ type: 'ssh-ed25519', blob: randomBytes(51) })
const line = (host: string, k: KnownKey) => `${host} ${k.type} ${k.blob.toString('base64')}`
const target = { address: '198.51.100.12', port: 22, name: 'node-b' }
const good = key(), other = key()

test('pinned when the node holds one of the controller\'s keys', () => {
  assert.equal(comparePins(`# c\n${line('198.51.100.11', other)}\n${line('198.51.100.12', good)}\n`, [good], target, '/kh'), { state: 'pinned' })
})

test('missing: the controller\'s keys, as known_hosts lines for the hop (port in brackets when not 22)', () => {
  const v = comparePins(line('198.51.100.11', other), [good], target, '/kh')
  assert.equal(v, { state: 'missing', lines: [line('198.51.100.12', good)] })
  const v2 = comparePins('', [good], { ...target, port: 2222 }, '/kh')
  assert.equal(v2, { state: 'missing', lines: [line('[198.51.100.12]:2222', good)] })
})

test('conflict: the node pins a different key, and it is not overwritten', () => {
  const v = comparePins(line('198.51.100.12', other), [good], target, '/var/lib/hapair/ssh/known_hosts')
  assert.is(v.state, 'conflict')
  assert.match((v as { reason: string }).reason, /HOST KEY MISMATCH.*\/var\/lib\/hapair\/ssh\/known_hosts.*SHA256:/)
})

test('untrusted: the controller has nothing to give', () => {
  assert.is(comparePins(line('198.51.100.12', good), [], target, '/kh').state, 'untrusted')
})

test.run()
