// Freshness measured from listings: the node-side listing script run on real local trees and the
// comparison; behind() itself runs over real SSH in freshness.lab.test.ts and freshness-three.lab.test.ts.
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { itemLag } from '../lib/freshness.ts'
import type { Pair, SyncItem } from '../lib/inventory/schema.ts'
import { listingsScript, MISSING_EXIT, parseListings } from '../lib/listing.ts'
import { itemScope } from '../lib/sync/filters.ts'
import { runLocal } from './checks/_local.ts'

const root = mkdtempSync(path.join(tmpdir(), 'hapair-fresh-'))
test.after(() => rmSync(root, { recursive: true, force: true }))

function tree(name: string, files: Record<string, string>, mtime = 1700000000): string {
  const d = path.join(root, name)
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, rel)), { recursive: true })
    writeFileSync(path.join(d, rel), body)
    utimesSync(path.join(d, rel), mtime, mtime)
  }
  return d
}

const pairOf = (items: SyncItem[], prot: string[] = []): Pair => ({
  name: 'p',
  primary: 'a',
  nodes: [
    { name: 'a', address: '198.51.100.11' },
    { name: 'b', address: '198.51.100.12' },
  ],
  sync: { items, protected: prot },
})

/** Lists dirs[k] as node k would, and judges the second against the first. */
function lag(item: SyncItem, pair: Pair, refDir: string, mineDir: string): string | undefined {
  const scope = itemScope(pair, item)
  const [ref, mine] = [refDir, mineDir].map((d) => parseListings(runLocal({ script: listingsScript([{ path: d, protect: scope.protect }]) }).stdout)[0])
  return itemLag(item, scope, 'a', ref, mine)
}

const base = { 'data/1': 'one', 'data/2': 'two', '.rhosts': 'x', 'local/n': 'node a', 'c.tmp': 'scratch' }
const A = tree('a', base)
const cases: [string, Record<string, string>, number, Partial<SyncItem>, RegExp | undefined][] = [
  ['the same tree', base, 1700000000, {}, undefined],
  ['a file missing here', { ...base, 'data/2': undefined as never }, 1700000000, {}, /data\/2 \(missing here\)/],
  ['a file of another size', { ...base, 'data/1': 'ONE!' }, 1700000000, {}, /data\/1 \(size 4 vs 3\)/],
  ['the same size, another mtime', base, 1700000100, {}, /\(mtime\)/],
  [
    'protected and excluded paths differ: not behind',
    { ...base, '.rhosts': 'other', 'local/n': 'node b!', 'c.tmp': 'other scratch' },
    1700000000,
    { exclude: ['*.tmp'] },
    undefined,
  ],
  ['an extra file, mirror item: behind', { ...base, extra: 'e' }, 1700000000, { mirror: true }, /extra \(extra here\)/],
  ['an extra file, not mirror: not behind', { ...base, extra: 'e' }, 1700000000, {}, undefined],
]
cases.forEach(([name, files, mtime, extra, want], k) =>
  test(`itemLag: ${name}`, () => {
    const B = tree(`b${k}`, Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)), mtime)
    const item: SyncItem = { name: 'app', path: A, protect: [`${A}/local`], ...extra }
    const pair = pairOf([item], [`${A}/.rhosts`])
    // The target's listing is of B, under the item's scope (same relative paths).
    const scope = itemScope(pair, item)
    const list = (d: string) => parseListings(runLocal({ script: listingsScript([{ path: d, protect: scope.protect }]) }).stdout)[0]
    const why = itemLag(item, scope, 'a', list(A), list(B))
    if (!want) assert.is(why, undefined)
    else assert.match(why ?? '', want)
  }),
)

test('itemLag: a missing item here is behind; a missing item on the active is not', () => {
  const item: SyncItem = { name: 'app', path: A }
  const pair = pairOf([item])
  assert.match(lag(item, pair, A, path.join(root, 'nope')) ?? '', /^missing: /)
  assert.is(lag(item, pair, path.join(root, 'nope'), A), undefined)
  assert.match(itemLag(item, itemScope(pair, item), 'a', { code: 1, tree: new Map() }, { code: 0, tree: new Map() }) ?? '', /^unknown: listing .* on a failed/)
  assert.is(MISSING_EXIT, 3)
})

// Its speed is measured by bench/freshness (a timed unit test is noise on a shared machine).
test('itemLag over 20,000 files (a protected directory, an exclude): equal trees are not behind', () => {
  const big = path.join(root, 'big')
  for (let d = 0; d < 100; d++) {
    mkdirSync(path.join(big, `d${d}`), { recursive: true })
    // Whole-second times: a copy keeps times to the millisecond, which can round across a second.
    for (let f = 0; f < 200; f++) {
      const p = path.join(big, `d${d}`, `f${f}`)
      writeFileSync(p, '')
      utimesSync(p, 1700000000, 1700000000)
    }
  }
  const copy = path.join(root, 'big-copy')
  cpSync(big, copy, { recursive: true, preserveTimestamps: true })
  // Differences only where sync never looks: the protected directory and an excluded name.
  writeFileSync(path.join(copy, 'd7', 'f0'), 'only here')
  writeFileSync(path.join(copy, 'd8', 'x.tmp'), 'scratch')
  const item: SyncItem = { name: 'big', path: big, mirror: true, exclude: ['*.tmp'] }
  const pair = pairOf([item], [`${big}/d7`])
  assert.is(lag(item, pair, big, copy), undefined)
  // And the comparison can fail: one file of the 20,000 changed.
  writeFileSync(path.join(copy, 'd50', 'f9'), 'changed')
  assert.match(lag(item, pair, big, copy) ?? '', /d50\/f9 \(size/)
})

test.run()
