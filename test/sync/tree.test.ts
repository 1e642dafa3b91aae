import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { diffTrees, itemize, type TreeEntry } from '../../lib/sync/tree.ts'

const f = (rel: string, o: Partial<TreeEntry> = {}): TreeEntry => ({ rel, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 10, mtime: 1000, ...o })
const d = (rel: string, o: Partial<TreeEntry> = {}): TreeEntry => f(rel, { type: 'dir', mode: 0o755, size: 4096, ...o })
const l = (rel: string, link: string): TreeEntry => f(rel, { type: 'link', link, mode: 0o777 })
const tree = (...e: TreeEntry[]) => new Map(e.map((x) => [x.rel, x]))
const rels = (e: { rel: string }[]) => e.map((x) => x.rel)

test('new tree: directories shallowest first, every file sent, dirs re-stamped deepest first', () => {
  const x = diffTrees(tree(d('a'), d('a/b'), f('a/b/c'), f('top', { size: 7 })), tree(), { mirror: false })
  assert.equal(rels(x.mkdir), ['a', 'a/b'])
  assert.equal(rels(x.upload).sort(), ['a/b/c', 'top'])
  assert.equal(rels(x.dirs), ['a/b', 'a'])
  assert.equal([x.files, x.unchanged, x.bytes], [2, 0, 17])
})

test('unchanged files are left alone; size or time differences are sent; mode alone is re-stamped', () => {
  const src = tree(f('same'), f('size', { size: 11 }), f('time', { mtime: 1001 }), f('mode', { mode: 0o600 }))
  const dst = tree(f('same'), f('size'), f('time'), f('mode'))
  const x = diffTrees(src, dst, { mirror: false })
  assert.equal(rels(x.upload).sort(), ['size', 'time'])
  assert.equal(rels(x.attrs), ['mode'])
  assert.equal([x.files, x.unchanged], [4, 2])
  assert.equal(x.dirs, [], 'the root is not re-stamped')
})

test('deletions only when mirror, deepest first, after everything else', () => {
  const src = tree(f('keep'))
  const dst = tree(f('keep'), d('old'), f('old/x'), d('old/y'), f('old/y/z'), f('gone'))
  assert.equal(diffTrees(src, dst, { mirror: false }).remove, [])
  const x = diffTrees(src, dst, { mirror: true })
  assert.equal(rels(x.remove), ['old/y/z', 'old/y', 'old/x', 'old', 'gone'])
  assert.equal(x.clear, [])
})

test('type changes: a file or link in the way is cleared; a directory in the way only for mirror items', () => {
  const src = tree(d('was-file'), f('was-dir'), f('was-link'))
  const dst = tree(f('was-file'), d('was-dir'), f('was-dir/inner'), l('was-link', '/etc/passwd'))
  const plain = diffTrees(src, dst, { mirror: false })
  assert.equal(rels(plain.clear).sort(), ['was-file', 'was-link'])
  assert.equal(rels(plain.blocked), ['was-dir'])
  assert.not.ok(rels(plain.upload).includes('was-dir'))
  const mirror = diffTrees(src, dst, { mirror: true })
  assert.equal(rels(mirror.clear), ['was-dir/inner', 'was-link', 'was-file', 'was-dir'], 'deepest first')
  assert.equal(rels(mirror.upload).sort(), ['was-dir', 'was-link'])
  assert.equal(mirror.blocked, [])
  assert.equal(mirror.remove, [], 'cleared entries are not deleted twice')
})

test('a symlinked directory on the target is replaced, never written through', () => {
  const x = diffTrees(tree(d('sub'), f('sub/file')), tree(l('sub', '/etc')), { mirror: false })
  assert.equal(rels(x.clear), ['sub'])
  assert.equal(rels(x.mkdir), ['sub'])
  assert.equal(rels(x.upload), ['sub/file'])
})

test('symlinks: created, re-pointed, or left', () => {
  const x = diffTrees(tree(l('new', 't'), l('moved', 'b'), l('same', 's')), tree(l('moved', 'a'), l('same', 's')), { mirror: false })
  assert.equal(rels(x.link), ['moved', 'new'])
})

test('special files are reported, not sent', () => {
  const x = diffTrees(tree(f('fifo', { type: 'other' })), tree(), { mirror: false })
  assert.equal(x.special, ['fifo'])
  assert.equal(x.upload, [])
})

test('itemize: rsync-like lines for a dry run', () => {
  const dst = tree(f('changed'), f('gone'))
  const x = diffTrees(tree(d('n'), f('n/new'), f('changed', { size: 99 })), dst, { mirror: true })
  assert.equal(itemize(x, dst), ['*deleting   gone', 'cd+++++++++ n/', '>f.s....... changed', '>f+++++++++ n/new'])
})

test.run()
