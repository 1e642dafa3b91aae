import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHmac, randomBytes } from 'node:crypto'
import { fingerprint, type KnownKey } from '../../lib/known-hosts.ts'
import { comparePins, hostKeyAlias } from '../../lib/sync/pin.ts'

const key = (): KnownKey => ({ type: 'ssh-ed25519', blob: randomBytes(51) })
const line = (host: string, k: KnownKey) => `${host} ${k.type} ${k.blob.toString('base64')}`
const alias = hostKeyAlias('web', 'node-b')
const target = { address: '198.51.100.12', port: 22, name: 'node-b', alias }
const scope = { file: '/var/lib/hapair/ssh/known_hosts', source: 'node-a', others: ['198.51.100.11', '[198.51.100.11]:22'] }
const good = key(),
  other = key(),
  attacker = key()
const hashed = (host: string, k: KnownKey) => {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(host).digest('base64')} ${k.type} ${k.blob.toString('base64')}`
}

test('the alias is hapair\'s own and cannot collide across pairs ("@" is not allowed in names)', () => {
  assert.is(alias, 'hapair-web@node-b')
  assert.is.not(hostKeyAlias('web-node', 'b'), hostKeyAlias('web', 'node-b'))
})

test("pinned: the alias line holds the controller's key; other nodes' and legacy address lines may stand beside it", () => {
  const text = `# c\n${line('198.51.100.11', other)}\n${line(hostKeyAlias('web', 'node-c'), other)}\n${line('198.51.100.12', good)}\n${line(alias, good)}\n`
  assert.equal(comparePins(text, [good], target, scope), { state: 'pinned' })
})

test("missing: the controller's keys as alias lines (a legacy address line is not enough, the port does not matter)", () => {
  assert.equal(comparePins(line('198.51.100.12', good), [good], target, scope), { state: 'missing', lines: [line(alias, good)] })
  assert.equal(comparePins('', [good, other], { ...target, port: 2222 }, scope), { state: 'missing', lines: [line(alias, good), line(alias, other)] })
})

// Each of these stands beside an otherwise good file: any one refuses the hop, naming the line's key and the controller's.
const hostile: [string, string, RegExp][] = [
  ['an extra key for the alias', line(alias, attacker), /key for hapair-web@node-b the controller does not pin/],
  ['an extra key for the address', line('198.51.100.12', attacker), /key for 198\.51\.100\.12 the controller does not pin/],
  ['an extra key for [address]:22', line('[198.51.100.12]:22', attacker), /the controller does not pin/],
  ['a wildcard for the address', line('198.51.100.1?', attacker), /host pattern or list \(198\.51\.100\.1\?\)/],
  ['a wildcard matching the alias', line('hapair-*', attacker), /host pattern/],
  ['a list naming the alias', line(`${alias},x`, attacker), /host pattern or list/],
  ['a negation', line('!198.51.100.11', attacker), /host pattern/],
  ['a hashed entry for the address', hashed('198.51.100.12', attacker), /hashed host name/],
  ['a @cert-authority line', `@cert-authority * ${line('', attacker).trim()}`, /@cert-authority line/],
  ['a @revoked line', `@revoked ${line(alias, good)}`, /@revoked line/],
  ['a host hapair never wrote', line('evil.example', attacker), /evil\.example, which hapair did not write/],
]
for (const [what, bad, why] of hostile)
  test(`conflict: ${what}`, () => {
    for (const text of [`${line(alias, good)}\n${bad}\n`, `${bad}\n`]) {
      const v = comparePins(text, [good], target, scope)
      assert.is(v.state, 'conflict', text)
      const reason = (v as { reason: string }).reason
      assert.match(reason, /HOST KEY MISMATCH on the hop node-a -> node-b \(198\.51\.100\.12\): in \/var\/lib\/hapair\/ssh\/known_hosts on node-a, line \d/)
      assert.match(reason, why)
      if (!bad.startsWith('@revoked')) assert.ok(reason.includes(fingerprint(attacker.blob)), `the foreign key's fingerprint: ${reason}`)
      assert.ok(reason.includes(`the controller pins ${fingerprint(good.blob)} for node-b`), reason)
    }
  })

test('conflict: a malformed line is refused, not skipped', () => {
  const v = comparePins(`${line(alias, good)}\n198.51.100.12 ssh-ed25519\n`, [good], target, scope)
  assert.match((v as { reason: string }).reason, 'line 2 is not a host key line')
})

test('untrusted: the controller has nothing to give', () => {
  assert.is(comparePins(line(alias, good), [], target, scope).state, 'untrusted')
})

test.run()
