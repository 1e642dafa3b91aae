import { appendFileSync, mkdtempSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { catastrophicPattern } from '../../lib/regex-safety.ts'
import { compilePatterns, matchLines, parseLogRead, readLogArgs, scanText, splitLines, type Offset } from '../../lib/checks/log-scan.ts'
import { shJoin } from '../../lib/shell.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-log-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))
const log = path.join(dir, 'error.log')
let at: Offset | undefined
/** The read script run here as a node runs it, stdout decoded one character per byte. */
const readRaw = (budget?: number) => parseLogRead(spawnSync('sh', ['-c', shJoin(readLogArgs(log, at, budget))]).stdout.toString('latin1'), at)
const read = (budget?: number) => {
  const r = readRaw(budget)
  if (!r.missing) at = { inode: r.inode, offset: r.nextOffset, at: 'now' }
  return { ...r, lines: splitLines(r.text) }
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

const numbered = (from: number, n: number) => Array.from({ length: n }, (_, i) => `INFO line ${String(from + i).padStart(5, '0')} ${'x'.repeat(30)}`)
/** Reads with a budget until nothing is left; every line exactly once, in order. */
function readAll(budget: number): { lines: string[]; runs: number; left: number[] } {
  const lines: string[] = []
  const left: number[] = []
  let runs = 0
  for (;;) {
    const r = read(budget)
    runs++
    lines.push(...r.lines)
    left.push(r.leftBytes)
    assert.ok(r.text.length <= budget + 1, `read ${r.text.length} bytes with a budget of ${budget}`)
    if (r.leftBytes === 0 || runs > 100) return { lines, runs, left }
  }
}

test('a budget: one run reads at most that much, says what is left, and later runs converge on every line once', () => {
  const want = numbered(0, 200)
  appendFileSync(log, want.join('\n') + '\n')
  const { lines, runs, left } = readAll(1000)
  assert.equal(lines, want)
  assert.ok(runs >= 9, `${runs} runs for ~9 KB at 1000 bytes`)
  assert.ok(left[0] > 7000, `the first run says how much is left (${left[0]})`)
  assert.is(at!.offset, statSync(log).size)
})

test('a budget across a rotation: the rest of .1 is read over several runs before the new file', () => {
  const old = numbered(1000, 60)
  appendFileSync(log, old.join('\n') + '\n')
  renameSync(log, log + '.1')
  const fresh = numbered(2000, 40)
  writeFileSync(log, fresh.join('\n') + '\n')
  const { lines, runs } = readAll(700)
  assert.equal(lines, [...old, ...fresh])
  assert.ok(runs > 4)
  rmSync(log + '.1')
})

test('a line longer than the budget is taken in pieces: the offset always advances', () => {
  appendFileSync(log, 'E'.repeat(5000) + '\nERROR after\n')
  const { lines } = readAll(1024)
  assert.equal(lines.join('').length, 5000 + 'ERROR after'.length)
  assert.is(lines[lines.length - 1], 'ERROR after')
})

test('scanText: matches like matchLines, in UTF-8, with ignore patterns', async () => {
  const text = Buffer.from(lines.join('\n') + '\nERROR café\n').toString('latin1')
  const r = await scanText(text, ['ERROR', 'FATAL', 'panic'], ['ERROR \\(expected\\)'])
  assert.equal(r.hits, ['ERROR db down', 'kernel panic', 'ERROR café'])
  assert.is(r.hitCount, 3)
  assert.is(r.lineCount, 6)
  assert.is(r.scannedBytes, text.length)
  assert.is(r.timedOutOn, undefined)
})

test('scanText: a pattern that backtracks for ever is stopped at its time bound, naming it', async () => {
  const text = 'ok\n' + 'a'.repeat(40) + '!\n'
  const t0 = Date.now()
  const r = await scanText(text, ['ERROR', '(a+)+$'], [], { ms: 300 })
  assert.ok(Date.now() - t0 < 3000, `stopped after ${Date.now() - t0} ms`)
  assert.is(r.timedOutOn, '(a+)+$')
  assert.ok(r.scannedBytes < text.length)
})

const hostile = ['(a+)+$', '(x*)*', '(a|a)*', '(\\w+\\s?)+$', '^(([a-z])+.)+[A-Z]([a-z])+$', '(.*a){2,}', '((ab)*)+', '(a|ab)+', '(?:x+y?)*']
const fine = [
  'ERROR',
  'FATAL|panic',
  'ERROR \\(expected\\)',
  '^\\d{4}-\\d{2} (WARN|ERROR)',
  '(ab)+c',
  '[(+)]+',
  'a\\(b+\\)+',
  'conn(ection)? (lost|reset)',
  '(lost|reset)+',
  '(?:GET|POST) /',
]
test('catastrophicPattern: nested or alternated quantifiers are flagged, ordinary patterns are not', () => {
  for (const p of hostile) assert.ok(catastrophicPattern(p), `should flag ${p}`)
  for (const p of fine) assert.not.ok(catastrophicPattern(p), `should accept ${p}`)
})

test.run()
