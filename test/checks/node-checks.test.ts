// The small checks' judges, table-driven, and their node scripts run for real on this machine.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { archiveScript, judgeArchive } from '../../lib/checks/archiving.ts'
import { compareDigests, digestsScript, parseDigests } from '../../lib/checks/identical-files.ts'
import { judgePaths, parsePathTypes, pathsScript } from '../../lib/checks/paths.ts'
import { runLocal } from './_local.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-checks-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))
const p = (x: string) => path.join(dir, x)
mkdirSync(p('d'))
writeFileSync(p('f'), 'secret')
symlinkSync(p('d'), p('ld'))
mkdirSync(p('has space'))

test("pathsScript reports each path's type in order (symlinks followed, odd names fine)", () => {
  const paths = [p('d'), p('f'), p('ld'), p('missing'), p('has space'), '/dev/null']
  assert.equal(parsePathTypes(runLocal({ script: pathsScript(paths) }).stdout, paths.length), ['dir', 'file', 'dir', 'missing', 'dir', 'other'])
})

const paths: [string, { path: string; type: 'file' | 'dir' }[], ('file' | 'dir' | 'other' | 'missing')[], boolean, RegExp][] = [
  [
    'all present',
    [
      { path: '/a', type: 'dir' },
      { path: '/b', type: 'file' },
    ],
    ['dir', 'file'],
    true,
    /all 2 declared paths present/,
  ],
  ['missing', [{ path: '/a', type: 'dir' }], ['missing'], false, /^\/a: missing \(expected dir\): create it/],
  ['wrong type', [{ path: '/a', type: 'file' }], ['dir'], false, /^\/a: is a dir, expected file/],
  ['neither', [{ path: '/a', type: 'file' }], ['other'], false, /neither file nor directory/],
  ['nothing declared', [], [], true, /no paths declared/],
]
for (const [name, declared, found, ok, re] of paths) {
  test(`judgePaths: ${name}`, () => {
    const v = judgePaths(declared, found)
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
  })
}

test('judgePaths lists at most N wrong paths', () => {
  const declared = Array.from({ length: 8 }, (_, i) => ({ path: `/p${i}`, type: 'dir' as const }))
  const v = judgePaths(
    declared,
    declared.map(() => 'missing'),
    3,
  )
  assert.match(v.detail, /^8 paths wrong: \/p0: .*\/p2: [^;]*; and 5 more$/)
})

test('digestsScript: sha256 of each file, never its content; missing and unreadable named', () => {
  const files = [p('f'), p('missing'), p('d')]
  const out = runLocal({ script: digestsScript(files) }).stdout
  assert.not.match(out, /secret/)
  assert.equal(parseDigests(out, 3), ['2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', 'missing', 'not a regular file'])
})

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const files = ['/etc/key', '/etc/conf']
const digests: [string, Record<string, string[]>, string, boolean, RegExp][] = [
  ['identical', { a: [A, B], b: [A, B] }, 'b', true, /2 files identical to a/],
  ['differs: names the file, not the digest', { a: [A, B], b: [A, A] }, 'b', false, /^\/etc\/conf: differs from a \(active\): copy it from there$/],
  ['missing on the secondary', { a: [A, B], b: ['missing', B] }, 'b', false, /^\/etc\/key: missing$/],
  ['active is the reference', { a: [A, B], b: [B, B] }, 'a', true, /reference for 2 files/],
  ['active lacks a file', { a: ['missing', B], b: [A, B] }, 'a', false, /\/etc\/key missing on the active node/],
  ['active did not answer', { b: [A, B] }, 'b', false, /cannot compare: the active node a did not answer/],
]
for (const [name, byNode, node, ok, re] of digests) {
  test(`compareDigests: ${name}`, () => {
    const v = compareDigests(files, byNode, 'a', node)
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
    assert.not.match(v.detail, /aaaa|bbbb/)
  })
}

test('archiveScript + judgeArchive: fresh, stale, empty and missing directories', () => {
  const a = { name: 'wal', path: p('arch'), maxAgeMinutes: 60 }
  assert.match(judgeArchive(a, runLocal({ script: archiveScript(a) }).stdout).detail, /does not exist/)
  mkdirSync(a.path)
  assert.match(judgeArchive(a, runLocal({ script: archiveScript(a) }).stdout).detail, /holds no files/)
  writeFileSync(path.join(a.path, 'old'), 'x')
  const t = Date.now() / 1000 - 2 * 3600
  utimesSync(path.join(a.path, 'old'), t, t)
  const stale = judgeArchive(a, runLocal({ script: archiveScript(a) }).stdout)
  assert.is(stale.ok, false)
  assert.match(stale.detail, /^newest old 2\.0 h ago \(1 files, max 60 min\): archiving has stopped/)
  writeFileSync(path.join(a.path, 'new one'), 'x')
  const fresh = judgeArchive(a, runLocal({ script: archiveScript(a) }).stdout)
  assert.is(fresh.ok, true)
  assert.match(fresh.detail, /^newest new one \d+ s ago \(2 files, max 60 min\)$/)
})

test('judgeArchive: garbage from the node is an error, not a pass', () => {
  assert.throws(() => judgeArchive({ name: 'w', path: '/x', maxAgeMinutes: 1 }, 'x\ny\n'), /unexpected archive listing/)
})

test.run()
