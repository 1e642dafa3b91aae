// The backup scripts run for real on this machine, against archives made here with tar.
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { archiveKind, checksumFor, parseReadThrough, readThroughScript, restoreScript } from '../../lib/backup/integrity.ts'
import { compareRestore, parseManifest, parseTarVerbose } from '../../lib/backup/manifest.ts'
import { parseListing } from '../../lib/listing.ts'
import { runLocal } from '../checks/_local.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-backup-'))
const scratch = path.join(dir, 'scratch')
mkdirSync(scratch)
test.after(() => rmSync(dir, { recursive: true, force: true }))
const p = (x: string) => path.join(dir, x)
mkdirSync(p('src/app/data'), { recursive: true })
writeFileSync(p('src/app/data/a.csv'), 'id\n1\n'.repeat(200))
writeFileSync(p('src/app/b c.txt'), 'b')
runLocal({ script: `cd ${dir} && tar -czf good.tar.gz -C src app && tar -tzf good.tar.gz > good.tar.gz.list && gzip -c src/app/b\\ c.txt > plain.gz` })

const kinds: [string, ReturnType<typeof archiveKind>][] = [
  ['app.tar.gz', { tar: true, compressor: 'gzip' }],
  ['app.tgz', { tar: true, compressor: 'gzip' }],
  ['app.tar', { tar: true, compressor: undefined }],
  ['app.tar.zst', { tar: true, compressor: 'zstd' }],
  ['app.tar.xz', { tar: true, compressor: 'xz' }],
  ['dump.sql.gz', { tar: false, compressor: 'gzip' }],
  ['dump.sql', undefined],
]
for (const [name, want] of kinds) test(`archiveKind: ${name}`, () => assert.equal(archiveKind(name), want))

test('checksumFor: by basename, either sha256sum mode, absent when not listed', () => {
  const sums = `${'a'.repeat(64)}  app-1.tar.gz\n${'B'.repeat(64)} */var/backups/app/app-2.tar.gz\n`
  assert.is(checksumFor(sums, 'app-1.tar.gz'), 'a'.repeat(64))
  assert.is(checksumFor(sums, 'app-2.tar.gz'), 'b'.repeat(64))
  assert.is(checksumFor(sums, 'app-3.tar.gz'), undefined)
})

test('readThrough: a good archive reads end to end and lists its members', () => {
  const r = parseReadThrough(runLocal({ script: readThroughScript(p('good.tar.gz'), archiveKind('good.tar.gz')!) }).stdout)
  assert.is(r.ok, true)
  assert.equal(
    parseTarVerbose(r.listing)
      .map((e) => e.path)
      .sort(),
    ['app', 'app/b c.txt', 'app/data', 'app/data/a.csv'],
  )
})

test('readThrough: damage in the middle is caught by the compressor, with its message on one line', () => {
  const bytes = readFileSync(p('good.tar.gz'))
  bytes.write('garbage-garbage', 40)
  writeFileSync(p('bad.tar.gz'), bytes)
  const r = parseReadThrough(runLocal({ script: readThroughScript(p('bad.tar.gz'), archiveKind('bad.tar.gz')!) }).stdout)
  assert.is(r.ok, false)
  assert.match(r.error!, /^test: gzip: .*(crc error|invalid compressed data|format violated)/)
  assert.not.match(r.error!, /\n/)
})

test('readThrough: a truncated archive fails too', () => {
  writeFileSync(p('short.tar.gz'), readFileSync(p('good.tar.gz')).subarray(0, 100))
  assert.is(parseReadThrough(runLocal({ script: readThroughScript(p('short.tar.gz'), archiveKind('short.tar.gz')!) }).stdout).ok, false)
})

const restore = (file: string, need: number, hash: boolean) =>
  runLocal({ script: restoreScript(p(file), archiveKind(file)!, need, hash) }, { check: false }, { TMPDIR: scratch })

test('restore: extracts into a scratch directory, lists and hashes, removes the scratch', () => {
  const r = restore('good.tar.gz', 1000, true)
  assert.is(r.code, 0, r.stderr)
  const got = parseListing(r.stdout)
  const sha = createHash('sha256')
    .update(readFileSync(p('src/app/data/a.csv')))
    .digest('hex')
  assert.is(got.get('app/data/a.csv')!.digest, sha)
  assert.is(got.get('app/b c.txt')!.size, 1)
  assert.is(got.get('app/data')!.type, 'd')
  assert.equal(readdirSync(scratch), [])
  assert.ok(compareRestore(parseManifest(readFileSync(p('good.tar.gz.list'), 'utf8')).entries, got).ok)
})

test('restore: refuses when the scratch filesystem cannot hold it (exit 92), scratch removed', () => {
  const r = restore('good.tar.gz', 1e18, false)
  assert.is(r.code, 92)
  assert.match(r.stderr, /MiB free, the restore needs .* MiB: set TMPDIR/)
  assert.equal(readdirSync(scratch), [])
})

test('restore: a damaged archive fails extraction (exit 91), scratch removed', () => {
  const r = restore('bad.tar.gz', 1000, false)
  assert.is(r.code, 91)
  assert.equal(readdirSync(scratch), [])
})

test('restore: a compressed single file is decompressed to "content"', () => {
  const r = restore('plain.gz', 1000, false)
  assert.is(r.code, 0, r.stderr)
  assert.is(parseListing(r.stdout).get('content')!.size, 1)
})

test.run()
