// The backup scripts run for real on this machine, against archives made here with tar.
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { archiveKind, checksumFor, parseReadThrough, readThroughScript, restoreScript, splitRestoreMeter } from '../../lib/backup/integrity.ts'
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

// The meter is what a progress line can say of a restore: tar is silent until it is done. The archive
// comes through a named pipe that pauses after 4 MB, so the extraction lasts long enough on any machine.
test('restore with a meter: the bytes written so far on stderr while tar extracts, the result as without it, the meter gone', () => {
  mkdirSync(p('big/app'), { recursive: true })
  runLocal({ script: `cd ${dir} && head -c 10000000 /dev/urandom > big/app/blob && tar -cf big.tar -C big app && mkfifo slow.tar` })
  const feed = `{ dd if=${p('big.tar')} bs=1M count=4; sleep 0.8; dd if=${p('big.tar')} bs=1M skip=4; } 2>/dev/null > ${p('slow.tar')} &\n`
  const r = runLocal({ script: feed + restoreScript(p('slow.tar'), archiveKind('slow.tar')!, 10_000_000, false, 0.1) }, { check: false }, { TMPDIR: scratch })
  assert.is(r.code, 0, r.stderr)
  const m = splitRestoreMeter(r.stderr)
  assert.is(m.rest.trim(), '', 'nothing else on stderr')
  assert.ok(m.bytes.length >= 3, `${m.bytes.length} meter lines in ${r.durationMs} ms`)
  assert.ok(
    m.bytes.some((b) => b > 0 && b < 10_000_000),
    `a reading mid-way: ${m.bytes.join(',')}`,
  )
  assert.ok(
    m.bytes.every((b) => b >= 0 && b <= 10_000_000),
    m.bytes.join(','),
  )
  assert.is(parseListing(r.stdout).get('app/blob')!.size, 10_000_000)
  assert.equal(readdirSync(scratch), [])
  const ps = runLocal({ script: `ps -eo args | grep -c '[h]apair-restored' || true` }).stdout.trim()
  assert.is(ps, '0', 'the meter loop outlived the script')
})

test('restore with a meter: a damaged archive still fails with its own error, the meter lines apart', () => {
  const r = runLocal({ script: restoreScript(p('bad.tar.gz'), archiveKind('bad.tar.gz')!, 1000, false, 0.1) }, { check: false }, { TMPDIR: scratch })
  assert.is(r.code, 91)
  assert.match(splitRestoreMeter(r.stderr).rest, /gzip|tar/)
  assert.not.match(splitRestoreMeter(r.stderr).rest, /hapair-restored/)
  assert.equal(readdirSync(scratch), [])
})

test('splitRestoreMeter: readings out, other lines kept in order', () => {
  assert.equal(splitRestoreMeter('hapair-restored 10\ntar: oops\nhapair-restored 20\nhapair-restored x\n'), {
    bytes: [10, 20],
    rest: 'tar: oops\nhapair-restored x\n',
  })
})

test.run()
