import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Pair } from '../../lib/inventory/schema.ts'
import { excludeMatcher, itemInsideProtected, protectedIn, protectedMatcher, rsyncLiteral } from '../../lib/sync/filters.ts'

const pair = (protectedPaths: string[]): Pair => ({ name: 'p', primary: 'a', nodes: [], sync: { items: [], protected: protectedPaths } })

test("protectedIn: the item's own and the pair-wide paths inside it, relative, deduplicated", () => {
  const p = pair(['/srv/app/.rhosts', '/.rhosts', '/srv/other/x', '/srv/app/local/'])
  const item = { name: 'app', path: '/srv/app/', protect: ['/srv/app/local', '/srv/app//deep/./x'] }
  assert.equal(protectedIn(p, item), ['.rhosts', 'deep/x', 'local'])
  assert.equal(protectedIn(pair([]), { name: 'x', path: '/srv/x' }), [])
})

test('itemInsideProtected: a pair-wide protected path covering the whole item', () => {
  assert.ok(itemInsideProtected(pair(['/srv']), { name: 'a', path: '/srv/app' }))
  assert.ok(itemInsideProtected(pair(['/srv/app']), { name: 'a', path: '/srv/app/' }))
  assert.not.ok(itemInsideProtected(pair(['/srv/app/x']), { name: 'a', path: '/srv/app' }))
  assert.not.ok(itemInsideProtected(pair(['/srv/ap']), { name: 'a', path: '/srv/app' }))
})

test('rsyncLiteral: escapes only when rsync would see a wildcard', () => {
  assert.is(rsyncLiteral('plain name'), 'plain name')
  assert.is(rsyncLiteral('back\\slash'), 'back\\slash')
  assert.is(rsyncLiteral('a*b'), 'a\\*b')
  assert.is(rsyncLiteral('x[1]?\\'), 'x\\[1]\\?\\\\')
})

// patterns, path, isDir, excluded?
const cases: [string[], string, boolean, boolean][] = [
  [['*.tmp'], 'a.tmp', false, true],
  [['*.tmp'], 'deep/dir/a.tmp', false, true],
  [['*.tmp'], 'a.tmpx', false, false],
  [['cache/'], 'x/cache', true, true],
  [['cache/'], 'x/cache', false, false],
  [['/top'], 'top', false, true],
  [['/top'], 'sub/top', false, false],
  [['logs/*.log'], 'logs/a.log', false, true],
  [['logs/*.log'], 'var/logs/a.log', false, true],
  [['logs/*.log'], 'logs/sub/a.log', false, false],
  [['/data/**'], 'data/a/b/c', false, true],
  [['file?.txt'], 'file1.txt', false, true],
  [['file?.txt'], 'file10.txt', false, false],
  [['[ab].c'], 'a.c', false, true],
  [['[!ab].c'], 'a.c', false, false],
  [['[!ab].c'], 'z.c', false, true],
  [['a+b(c).$'], 'a+b(c).$', false, true],
  [[], 'anything', false, false],
]
for (const [pats, rel, isDir, want] of cases)
  test(`excludeMatcher ${JSON.stringify(pats)} ${rel}${isDir ? '/' : ''} -> ${want}`, () => {
    assert.is(excludeMatcher(pats)(rel, isDir), want)
  })

test('protectedMatcher: the path and everything under it, not its namesakes', () => {
  const m = protectedMatcher(['local', '.rhosts'])
  assert.equal(['local', 'local/x/y', '.rhosts', 'localx', 'x/local', '.rhosts2'].map(m), [true, true, true, false, false, false])
})

test.run()
