// The probe script runs in a real sh here, as it does on a node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Pair, SyncItem } from '../../lib/inventory/schema.ts'
import { parseNodeFacts, probeKeys, probeScript } from '../../lib/sync/versions.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-versions-'))
const at = (f: string) => path.join(dir, f)
writeFileSync(at('sw'), '5.2.1\nsecond line ignored\n')
writeFileSync(at('data v'), '  7  \n')
writeFileSync(at('empty'), '')

const items: SyncItem[] = [
  { name: 'data', path: '/srv/d', version: { file: at('data v') } },
  { name: 'cmd', path: '/srv/c', version: { command: 'echo 3; echo noise >&2' } },
  { name: 'failing', path: '/srv/f', version: { command: 'exit 4' } },
  { name: 'missing', path: '/srv/m', version: { file: at('nope') } },
  { name: 'blank', path: '/srv/b', version: { file: at('empty') } },
  { name: 'hostile', path: '/srv/h', version: { file: at("x'; touch pwned; '") } },
  { name: 'plain', path: '/srv/p' },
]
const pair: Pair = { name: 'p', primary: 'a', nodes: [], software: { file: at('sw') }, sync: { items } }

test('probeKeys: software first, then each item that declares a version', () => {
  assert.equal(
    probeKeys(pair, items).map((k) => k.key),
    ['software', 'item:data', 'item:cmd', 'item:failing', 'item:missing', 'item:blank', 'item:hostile'],
  )
  assert.equal(probeKeys({ ...pair, software: undefined }, [items[6]]), [])
})

test('the probe reads files and commands in one shell, and says why a version is missing', () => {
  const keys = probeKeys(pair, items)
  const out = execFileSync('sh', ['-c', probeScript(keys)], { cwd: dir, env: { PATH: process.env.PATH } }).toString()
  const facts = parseNodeFacts(out, keys)
  assert.equal(facts.software, { value: '5.2.1' })
  assert.equal(facts.items.data, { value: '7' })
  assert.equal(facts.items.cmd, { value: '3' })
  assert.match(facts.items.failing.error!, 'exited 4')
  assert.match(facts.items.missing.error!, `cannot read ${at('nope')}`)
  assert.match(facts.items.blank.error!, 'is empty')
  assert.ok(facts.items.hostile.error)
  assert.not.ok(existsSync(at('pwned')), 'a file name is never run')
  assert.is(facts.rsync, true)
  assert.not.ok('plain' in facts.items)
})

test("the probe also returns the node's hop pins and the pair lock's owner, when there are some", () => {
  writeFileSync(at('kh'), '198.51.100.12 ssh-ed25519 AAAA\n')
  writeFileSync(at('owner'), '{"owner":"ops"}')
  const keys = probeKeys(pair, [])
  const run = (kh: string, lock: string) => parseNodeFacts(execFileSync('sh', ['-c', probeScript(keys, kh, lock)]).toString(), keys)
  const got = run(at('kh'), at('owner'))
  assert.is(got.knownHosts, '198.51.100.12 ssh-ed25519 AAAA\n')
  assert.is(got.lock, '{"owner":"ops"}')
  const none = run(at('no-kh'), at('no-lock'))
  assert.is(none.knownHosts, '', 'an absent known_hosts reads as empty: every pin is missing')
  assert.is(none.lock, undefined)
})

test('rsync missing from PATH is reported', () => {
  const keys = probeKeys(pair, [])
  const out = execFileSync('/bin/sh', ['-c', probeScript(keys)], { env: { PATH: '/nonexistent' } }).toString()
  assert.is(parseNodeFacts(out, keys).rsync, false)
})

test('parseNodeFacts: a key the node did not answer reads as an error, not as a version', () => {
  const keys = probeKeys(pair, items.slice(0, 1))
  const facts = parseNodeFacts('software\x1e0\x1e9\x1f', keys)
  assert.equal(facts.items.data, { error: 'not reported' })
  assert.is(facts.rsync, false)
})

test.after(() => rmSync(dir, { recursive: true, force: true }))
test.run()
