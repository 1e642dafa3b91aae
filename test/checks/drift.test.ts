import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { compareTrees, describeDrift, driftCount, filterTree } from '../../lib/checks/drift.ts'
import { judgeItem } from '../../lib/checks/sync-drift.ts'
import type { Pair, SyncItem } from '../../lib/inventory/schema.ts'
import { deepScript, listingScript, listingsScript, MISSING_EXIT, parseListing, parseListings, type ListingEntry, type Tree } from '../../lib/listing.ts'
import { itemScope, protectRules, skipMatcher } from '../../lib/sync/filters.ts'
import { buildPlan } from '../../lib/sync/plan.ts'
import { runLocal } from './_local.ts'

const f = (size: number, mtime: number, digest?: string): ListingEntry => ({ type: 'f', size, mtime, target: '', digest })
const tree = (o: Record<string, ListingEntry>): Tree => new Map(Object.entries(o))

test('parseListing: five fields per record, root skipped, digests after END; names with odd bytes survive', () => {
  const weird = 'we\x1eird\nname'
  const out = [
    'd',
    '4096',
    '1.0',
    '',
    '',
    'f',
    '3',
    '1700000000.5',
    'a.txt',
    '',
    'l',
    '7',
    '2.0',
    'ln',
    'a.txt',
    'f',
    '1',
    '3.0',
    weird,
    '',
    'END',
    `${'a'.repeat(64)}  ./a.txt`,
    `${'b'.repeat(64)}  ./${weird}`,
    '',
  ].join('\0')
  const t = parseListing(out)
  assert.equal([...t.keys()], ['a.txt', 'ln', weird])
  assert.equal(t.get('a.txt'), { type: 'f', size: 3, mtime: 1700000000.5, target: '', digest: 'a'.repeat(64) })
  assert.is(t.get('ln')!.target, 'a.txt')
  assert.is(t.get(weird)!.digest, 'b'.repeat(64))
})

test('parseListings: one tree and exit code per item, in order; a cut-short item is dropped', () => {
  const out = ['f', '1', '1.0', 'a', '', 'ITEM', '0', '', '', '', 'ITEM', '3', '', '', '', 'f', '2', '2.0', 'b', ''].join('\0')
  const l = parseListings(out)
  assert.is(l.length, 2)
  assert.equal([...l[0].tree.keys()], ['a'])
  assert.equal([l[0].code, l[1].code, l[1].tree.size], [0, 3, 0])
})

const excl: [string, string[], string, boolean, boolean][] = [
  // pattern(s), path, isDir, excluded?
  ['name at any depth', ['*.tmp'], 'a/b/c.tmp', false, true],
  ['name does not match a longer name', ['cache'], 'a/cached', true, false],
  ['excluded directory hides its content', ['cache'], 'a/cache/x/y', false, true],
  ['anchored at the item root', ['/build'], 'build/x', false, true],
  ['anchored does not match deeper', ['/build'], 'src/build/x', false, false],
  ['trailing slash: directories only', ['logs/'], 'logs', false, false],
  ['trailing slash: the directory and below', ['logs/'], 'logs/a', false, true],
  ['slash inside: matched against the path tail', ['b/*.o'], 'a/b/x.o', false, true],
  ['* stays within a name', ['/a/*'], 'a/b/c', false, true],
  ['** crosses slashes', ['/a/**/z'], 'a/b/c/z', false, true],
  ['character class', ['file[0-9]'], 'file7', false, true],
  ['protected path and below', [], 'local/secret', false, true],
  ['protected path prefix is not a match', [], 'localhost', false, false],
]
for (const [name, patterns, p, isDir, want] of excl) {
  test(`excluder: ${name}`, () => assert.is(skipMatcher(patterns, ['local'])(p, isDir), want))
}

const cmp: [string, Tree, Tree, { deep: boolean; mirror: boolean }, string[]][] = [
  ['identical trees', tree({ a: f(1, 10) }), tree({ a: f(1, 10) }), { deep: false, mirror: true }, []],
  ['size differs', tree({ a: f(1, 10) }), tree({ a: f(2, 10) }), { deep: false, mirror: false }, ['a (size 2 vs 1)']],
  ['mtime differs by whole seconds', tree({ a: f(1, 10) }), tree({ a: f(1, 11) }), { deep: false, mirror: false }, ['a (mtime)']],
  ['sub-second mtime difference is not drift (sftp carries seconds)', tree({ a: f(1, 10.2) }), tree({ a: f(1, 10.9) }), { deep: false, mirror: false }, []],
  ['fast mode misses same-size same-mtime change', tree({ a: f(1, 10, 'x') }), tree({ a: f(1, 10, 'y') }), { deep: false, mirror: false }, []],
  ['deep mode catches it', tree({ a: f(1, 10, 'x') }), tree({ a: f(1, 10, 'y') }), { deep: true, mirror: false }, ['a (content)']],
  ['deep mode ignores mtime-only difference', tree({ a: f(1, 10, 'x') }), tree({ a: f(1, 99, 'x') }), { deep: true, mirror: false }, []],
  ['deep mode: a file that could not be hashed', tree({ a: f(1, 10, 'x') }), tree({ a: f(1, 10) }), { deep: true, mirror: false }, ['a (unreadable)']],
  ['missing on the secondary', tree({ a: f(1, 10), b: f(1, 1) }), tree({ a: f(1, 10) }), { deep: false, mirror: false }, ['b (missing here)']],
  ['extra counts for mirrored items', tree({}), tree({ z: f(1, 1) }), { deep: false, mirror: true }, ['z (extra here)']],
  ['extra is fine when sync does not delete', tree({}), tree({ z: f(1, 1) }), { deep: false, mirror: false }, []],
  [
    'type differs',
    tree({ a: { ...f(0, 1), type: 'd' } }),
    tree({ a: f(0, 1) }),
    { deep: false, mirror: false },
    ['a (file here, directory on the active node)'],
  ],
  [
    'symlink target differs',
    tree({ l: { type: 'l', size: 1, mtime: 1, target: 'x' } }),
    tree({ l: { type: 'l', size: 1, mtime: 5, target: 'y' } }),
    { deep: false, mirror: false },
    ['l (link target)'],
  ],
  [
    'directory mtimes are ignored',
    tree({ d: { type: 'd', size: 4096, mtime: 1, target: '' } }),
    tree({ d: { type: 'd', size: 4096, mtime: 9, target: '' } }),
    { deep: false, mirror: false },
    [],
  ],
]
for (const [name, ref, other, opts, want] of cmp) {
  test(`compareTrees: ${name}`, () => {
    const d = compareTrees(ref, other, opts)
    const got = [...d.differ.map((x) => `${x.path} (${x.why})`), ...d.missing.map((p) => `${p} (missing here)`), ...d.extra.map((p) => `${p} (extra here)`)]
    assert.equal(got, want)
  })
}

test('describeDrift names the first N, sorted, and counts the rest', () => {
  const d = {
    missing: ['c'],
    extra: ['e'],
    differ: [
      { path: 'a', why: 'content' },
      { path: 'b', why: 'mtime' },
      { path: 'd', why: 'mtime' },
    ],
  }
  assert.is(describeDrift(d, 'node-a', 3), '5 entries differ from node-a (active): a (content), b (mtime), c (missing here) and 2 more')
  assert.is(describeDrift({ missing: ['x'], extra: [], differ: [] }, 'n', 5), '1 entry differs from n (active): x (missing here)')
})

const item = { name: 'app', path: '/srv/app', mirror: true }
const opts = { deep: false, listMax: 5, exclude: (t: Tree) => t }
const judge: [string, Record<string, { tree?: Tree; missing?: boolean; error?: string }>, string, boolean, RegExp][] = [
  ['in sync', { a: { tree: tree({ x: f(1, 1) }) }, b: { tree: tree({ x: f(1, 1) }) } }, 'b', true, /^1 entries match a \(size, mtime\)$/],
  ['the active node is the reference', { a: { tree: tree({ x: f(1, 1) }) }, b: { tree: tree({}) } }, 'a', true, /^reference, 1 entries$/],
  ['missing here', { a: { tree: tree({}) }, b: { missing: true } }, 'b', false, /^\/srv\/app does not exist here: run the sync playbook$/],
  ['missing on the active node', { a: { missing: true }, b: { tree: tree({}) } }, 'a', false, /does not exist here on the active node/],
  ['the active node did not answer', { b: { tree: tree({}) } }, 'b', false, /^cannot compare: the active node a did not answer$/],
  ["the active node's listing failed", { a: { error: 'boom' }, b: { tree: tree({}) } }, 'b', false, /^cannot compare: listing failed on the active node a$/],
  [
    "this node's listing failed",
    { a: { tree: tree({}) }, b: { error: 'listing /srv/app failed (exit 1): find: x' } },
    'b',
    false,
    /^listing \/srv\/app failed/,
  ],
  [
    'drift',
    { a: { tree: tree({ x: f(1, 1) }) }, b: { tree: tree({}) } },
    'b',
    false,
    /^1 entry differs from a \(active\): x \(missing here\); run the sync playbook from a$/,
  ],
]
for (const [name, runs, node, ok, re] of judge) {
  test(`judgeItem: ${name}`, () => {
    const v = judgeItem(item, runs, node, 'a', opts)
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
  })
}

// The node-side scripts, run for real on this machine.
const root = mkdtempSync(path.join(tmpdir(), 'hapair-drift-'))
test.after(() => rmSync(root, { recursive: true, force: true }))
const itemDir = path.join(root, 'app')
mkdirSync(path.join(itemDir, 'local'), { recursive: true })
mkdirSync(path.join(itemDir, 'sub [1]*'), { recursive: true })
writeFileSync(path.join(itemDir, 'local', 'never'), 'protected')
writeFileSync(path.join(itemDir, 'sub [1]*', "it's\nodd"), 'odd')
symlinkSync('a0', path.join(itemDir, 'link'))
const contents = new Map<string, string>()
for (let i = 0; i < 700; i++) {
  const p = `f${i}`
  contents.set(p, `content ${i}\n`.repeat(i % 7))
  writeFileSync(path.join(itemDir, p), contents.get(p)!)
}
utimesSync(path.join(itemDir, 'f1'), 1700000000, 1700000000)

test('listingScript lists every entry with size and mtime, prunes protected paths', () => {
  const t = parseListing(runLocal({ script: listingScript(itemDir, ['local']) }).stdout)
  assert.is(t.size, 700 + 3) // files, the odd dir, its file, the link
  assert.not.ok([...t.keys()].some((k) => k.startsWith('local')))
  assert.is(t.get('f1')!.mtime, 1700000000)
  assert.is(t.get('f3')!.size, Buffer.byteLength(contents.get('f3')!))
  assert.is(t.get('link')!.target, 'a0')
  assert.ok(t.has("sub [1]*/it's\nodd"))
})

test('deepScript hashes every regular file (several hashers, several batches) and only those', () => {
  const t = parseListing(runLocal({ script: deepScript(itemDir, ['local'], 50) }).stdout)
  const sha = (s: string) => createHash('sha256').update(s).digest('hex')
  for (const [p, c] of contents) assert.is(t.get(p)!.digest, sha(c), p)
  assert.is(t.get("sub [1]*/it's\nodd")!.digest, sha('odd'))
  assert.is(t.get('link')!.digest, undefined)
  assert.not.ok(t.has('local/never'))
})

test('a protected path whose name holds glob characters is pruned literally', () => {
  const t = parseListing(runLocal({ script: listingScript(itemDir, ['sub [1]*']) }).stdout)
  assert.not.ok([...t.keys()].some((k) => k.startsWith('sub')))
  assert.ok(t.has('local/never'))
})

test('a missing itemDir path exits with the MISSING code in both modes', () => {
  assert.is(runLocal({ script: listingScript(path.join(root, 'nope'), []) }, { check: false }).code, MISSING_EXIT)
  assert.is(runLocal({ script: deepScript(path.join(root, 'nope'), []) }, { check: false }).code, MISSING_EXIT)
})

test('deep and fast listings of the same tree compare clean; a changed byte is caught by deep only', () => {
  const fastA = parseListing(runLocal({ script: listingScript(itemDir, ['local']) }).stdout)
  const deepA = parseListing(runLocal({ script: deepScript(itemDir, ['local']) }).stdout)
  const st = path.join(itemDir, 'f5')
  writeFileSync(st, contents.get('f5')!.replace('c', 'C'))
  utimesSync(st, fastA.get('f5')!.mtime, fastA.get('f5')!.mtime)
  const fastB = parseListing(runLocal({ script: listingScript(itemDir, ['local']) }).stdout)
  const deepB = parseListing(runLocal({ script: deepScript(itemDir, ['local']) }).stdout)
  const ex = (t: Tree) => filterTree(t, skipMatcher([], ['local']))
  assert.is(compareTrees(ex(fastA), ex(fastB), { deep: false, mirror: true }).differ.length, 0)
  assert.equal(compareTrees(ex(deepA), ex(deepB), { deep: true, mirror: true }).differ, [{ path: 'f5', why: 'content' }])
})

test('listingsScript: several items in one script, each with its own exit code', () => {
  const l = parseListings(
    runLocal({
      script: listingsScript([
        { path: itemDir, protect: ['local'] },
        { path: path.join(root, 'nope'), protect: [] },
        { path: itemDir, protect: ['sub [1]*'] },
      ]),
    }).stdout,
  )
  assert.equal(
    l.map((x) => x.code),
    [0, MISSING_EXIT, 0],
  )
  assert.not.ok(l[0].tree.has('local/never'))
  assert.ok(l[2].tree.has('local/never'))
  assert.is(l[0].tree.size, parseListing(runLocal({ script: listingScript(itemDir, ['local']) }).stdout).size)
})

// Sync and the sync-drift check decide "protected" with one rule (lib/sync/filters.ts): after a
// real rsync with sync's own protect rules, the check sees no drift although the protected paths
// differ, whichever way the inventory spells them; and an item under a protected parent is
// skipped by both.
const agreeRoot = mkdtempSync(path.join(tmpdir(), 'hapair-agree-'))
test.after(() => rmSync(agreeRoot, { recursive: true, force: true }))
const spellings: [string, (dir: string) => { protect: string[]; pairWide: string[] }][] = [
  ['plain', (d) => ({ protect: [`${d}/local`], pairWide: [`${d}/.rhosts`] })],
  ['with /./', (d) => ({ protect: [`${d}/./local`], pairWide: [`${d}/./.rhosts`] })],
  ['with //', (d) => ({ protect: [`${d}//local`], pairWide: [`${d}//.rhosts`] })],
  ['with trailing slashes', (d) => ({ protect: [`${d}/local/`], pairWide: [`${d}/.rhosts/`] })],
]
spellings.forEach(([name, spell], k) =>
  test(`sync and sync-drift agree on protected paths ${name}`, () => {
    const src = path.join(agreeRoot, `src${k}`),
      dst = path.join(agreeRoot, `dst${k}`)
    for (const d of [src, dst]) mkdirSync(path.join(d, 'local'), { recursive: true })
    writeFileSync(path.join(src, 'data'), 'data')
    for (const [d, who] of [
      [src, 'source'],
      [dst, 'target'],
    ]) {
      writeFileSync(path.join(d, '.rhosts'), `${who} rhosts`)
      writeFileSync(path.join(d, 'local', 'node.txt'), `${who} local`)
    }
    const sp = spell(src)
    const pair: Pair = { name: 'p', primary: 'a', nodes: [], sync: { items: [], protected: sp.pairWide } }
    const item: SyncItem = { name: 'app', path: src, mirror: true, protect: sp.protect }
    const scope = itemScope(pair, item)
    const r = spawnSync('rsync', ['-a', '--delete-delay', ...protectRules(scope.protect), '--', src + '/', dst + '/'], { encoding: 'utf8' })
    assert.is(r.status, 0, r.stderr)
    assert.is(readFileSync(path.join(dst, '.rhosts'), 'utf8'), 'target rhosts', 'sync left the protected file alone')
    assert.is(readFileSync(path.join(dst, 'local', 'node.txt'), 'utf8'), 'target local')
    const list = (d: string) => filterTree(parseListing(runLocal({ script: listingScript(d, scope.protect) }).stdout), scope.skips)
    const drift = compareTrees(list(src), list(dst), { deep: false, mirror: true })
    assert.is(driftCount(drift), 0, JSON.stringify(drift))
  }),
)

const under: [string, string[], string, boolean][] = [
  ['a protected parent', ['/srv'], '/srv/app', true],
  ['the item itself', ['/srv/app'], '/srv/app', true],
  ['the item itself, spelled with /./ and //', ['/srv/./app//'], '/srv//app/', true],
  ['a parent spelled with a trailing slash', ['/srv/'], '/srv/app', true],
  ['a namesake is not a parent', ['/sr'], '/srv/app', false],
  ['a path inside the item protects only that path', ['/srv/app/x'], '/srv/app', false],
]
for (const [name, prot, itemPath, whole] of under)
  test(`an item under ${name}: sync skips it ${whole ? 'and' : 'nor'} does sync-drift`, () => {
    const pair: Pair = {
      name: 'p',
      primary: 'a',
      nodes: [
        { name: 'a', address: '198.51.100.11' },
        { name: 'b', address: '198.51.100.12' },
      ],
      sync: { items: [], protected: prot },
    }
    const item: SyncItem = { name: 'app', path: itemPath, policy: 'always' }
    const facts = { items: {}, rsync: true }
    const [step] = buildPlan({ pair, items: [item], targets: ['b'], source: facts, reach: { b: facts } })
    assert.is(step.action === 'skip', whole, `sync: ${step.action} ${step.reason ?? ''}`)
    assert.is(itemScope(pair, item).whole, whole, 'sync-drift (and freshness) skip exactly when itemScope.whole')
  })

test.run()
