import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judgeListing, listScript, parseBackupListing, type Listing } from '../../lib/backup/inspect.ts'
import type { Backup } from '../../lib/inventory/schema.ts'
import { runLocal } from '../checks/_local.ts'

const b: Backup = { name: 'app', path: '/var/backups/app', maxAgeHours: 26, minBytes: 100, maxBytes: 1000 }
const now = 1714609421
const L = (archives: { name: string; mtime: number; size: number }[], missingDir = false): Listing => ({ now, missingDir, archives })

const cases: [string, Listing, [boolean, boolean, boolean], RegExp][] = [
  [
    'fresh and sized',
    L([{ name: 'app-2.tar.gz', mtime: now - 3600, size: 500 }]),
    [true, true, true],
    /app-2\.tar\.gz finished 2024-05-01T23:23:41Z \(60 min ago\), max 26 h/,
  ],
  ['stale', L([{ name: 'app-1.tar.gz', mtime: now - 30 * 3600, size: 500 }]), [true, false, true], /older than 26 h/],
  [
    'too small',
    L([{ name: 'a.tar.gz', mtime: now, size: 20 }]),
    [true, true, false],
    /20 B \(20 bytes\), outside 100 B\.\.1000 B: an empty or truncated backup/,
  ],
  ['too big', L([{ name: 'a.tar.gz', mtime: now, size: 5000 }]), [true, true, false], /unexpected growth/],
  ['none', L([]), [false, false, false], /no \*\.tar\.gz in \/var\/backups\/app/],
  ['no directory', L([], true), [false, false, false], /\/var\/backups\/app does not exist/],
]
for (const [name, listing, [present, age, size], re] of cases) {
  test(`judgeListing: ${name}`, () => {
    const j = judgeListing(b, listing)
    assert.equal([j.present.ok, j.age.ok, j.size.ok], [present, age, size])
    assert.match([j.present, j.age, j.size].find((v) => !v.ok)?.detail ?? j.age.detail, re)
  })
}

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-inspect-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

test('listScript: only matching files, newest first by finish time, node clock first', () => {
  mkdirSync(path.join(dir, 'sub.tar.gz'))
  writeFileSync(path.join(dir, 'app-1.tar.gz'), 'x'.repeat(10))
  writeFileSync(path.join(dir, 'app-2.tar.gz'), 'x'.repeat(20))
  writeFileSync(path.join(dir, 'app-2.tar.gz.list'), 'x')
  writeFileSync(path.join(dir, 'odd/name.tar.gz'.replace('/', '_')), 'x')
  utimesSync(path.join(dir, 'app-1.tar.gz'), 1714600000, 1714600000)
  utimesSync(path.join(dir, 'app-2.tar.gz'), 1714500000, 1714500000)
  const l = parseBackupListing(runLocal({ script: listScript({ name: 'x', path: dir }) }).stdout)
  assert.ok(Math.abs(l.now - Date.now() / 1000) < 5)
  assert.equal(
    l.archives.map((a) => a.name),
    ['odd_name.tar.gz', 'app-1.tar.gz', 'app-2.tar.gz'],
  )
  assert.equal(l.archives[1], { name: 'app-1.tar.gz', mtime: 1714600000, size: 10 })
  assert.is(parseBackupListing(runLocal({ script: listScript({ name: 'x', path: path.join(dir, 'nope') }) }).stdout).missingDir, true)
})

test.run()
