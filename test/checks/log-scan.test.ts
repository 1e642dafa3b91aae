import { appendFileSync, mkdtempSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { compilePatterns, matchLines, parseLogRead, readLogArgs, type Offset } from '../../lib/checks/log-scan.ts'
import { runLocal } from './_local.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-log-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))
const log = path.join(dir, 'error.log')
let at: Offset | undefined
const read = () => {
  const r = parseLogRead(runLocal(readLogArgs(log, at)).stdout)
  if (!r.missing) at = { inode: r.inode, offset: r.nextOffset, at: 'now' }
  return r
}

test('a missing log reads as missing', () => {
  assert.is(read().missing, true)
})

test('first read takes the whole file', () => {
  writeFileSync(log, 'INFO one\nERROR two\n')
  const r = read()
  assert.equal(r.lines, ['INFO one', 'ERROR two'])
  assert.is(r.restartedAt0, true)
  assert.is(at!.offset, statSync(log).size)
})

test('the next read starts where the last stopped; nothing new reads nothing', () => {
  assert.equal(read().lines, [])
  appendFileSync(log, 'INFO three\n')
  assert.equal(read().lines, ['INFO three'])
})

test('a half-written last line is left for the next read', () => {
  appendFileSync(log, 'FATAL four\nERROR fi')
  const r = read()
  assert.equal(r.lines, ['FATAL four'])
  appendFileSync(log, 've\n')
  assert.equal(read().lines, ['ERROR five'])
})

test('multi-byte characters: offsets are bytes', () => {
  appendFileSync(log, 'ERROR café ☕\nINFO après\n')
  assert.equal(read().lines, ['ERROR café ☕', 'INFO après'])
  assert.is(at!.offset, statSync(log).size)
})

test('rotation: the rest of the old file (now .1, same inode) is read, then the new file from 0', () => {
  appendFileSync(log, 'ERROR before rotation\n')
  renameSync(log, log + '.1')
  writeFileSync(log, 'INFO after rotation\n')
  const r = read()
  assert.is(r.rotated, true)
  assert.equal(r.lines, ['ERROR before rotation', 'INFO after rotation'])
})

test('truncation in place: read again from the start', () => {
  truncateSync(log, 0)
  writeFileSync(log, 'ERROR x\n')
  const r = read()
  assert.is(r.restartedAt0, true)
  assert.equal(r.lines, ['ERROR x'])
})

test('rotated away without a .1 holding the old inode: the new file from 0', () => {
  // Created while the old file still exists, so it cannot reuse the old inode number.
  writeFileSync(log + '.new', 'INFO new\n')
  rmSync(log + '.1')
  renameSync(log + '.new', log)
  const r = read()
  assert.is(r.rotated, false)
  assert.equal(r.lines, ['INFO new'])
})

const patterns = compilePatterns(['ERROR', 'FATAL', 'panic'], ['ERROR \\(expected\\)'])
const lines = ['INFO ok', 'ERROR db down', 'ERROR (expected) shutdown', 'kernel panic', 'error lower-case']
test('matchLines: patterns match, ignore patterns win, case is significant', () => {
  assert.equal(matchLines(lines, patterns), ['ERROR db down', 'kernel panic'])
})

test('compilePatterns throws on a bad regular expression', () => {
  assert.throws(() => compilePatterns(['(unclosed']))
})

test.run()
