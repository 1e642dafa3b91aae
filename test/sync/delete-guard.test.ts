// The mirror delete guard: limits and their defaults, the inventory fields, and the rsync passes
// run for real on this machine (the -e hop replaced by a pipe to a local rsync, the rest of the
// argument vector as sync builds it).
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { InputError } from '../../lib/errors.ts'
import { parseInventory } from '../../lib/inventory/load.ts'
import type { MaxDelete, Pair, SyncItem } from '../../lib/inventory/schema.ts'
import { deleteLimit, describeRefusal, judgeRemovals, MAX_DELETE_DEFAULT, overLimit, settleHeldDeletes, type Pass } from '../../lib/sync/delete-guard.ts'
import { deleteArgv, parseHeldDeletes, parseNonDirCounts, rsyncArgv, withoutHeldNoise, type RsyncOptions } from '../../lib/sync/rsync.ts'

const pair = (maxDelete?: MaxDelete): Pair => ({ name: 'p', primary: 'a', nodes: [], sync: { items: [], ...(maxDelete ? { maxDelete } : {}) } })

test("deleteLimit: the item's value, else the pair-wide one, else the defaults, field by field", () => {
  const item: SyncItem = { name: 'i', path: '/srv/i', mirror: true }
  assert.equal(deleteLimit(pair(), item), { ...MAX_DELETE_DEFAULT })
  assert.equal(deleteLimit(pair({ count: 5 }), item), { count: 5, share: 0.2 })
  assert.equal(deleteLimit(pair({ count: 5, share: 0.5 }), { ...item, maxDelete: { share: 0.1 } }), { count: 5, share: 0.1 })
  assert.equal(deleteLimit(pair(), { ...item, maxDelete: { count: 0 } }), { count: 0, share: 0.2 })
})

// files to delete, files the target holds, limit, over?
const limits: [number, number, { count: number; share: number }, boolean][] = [
  [0, 100, { count: 0, share: 0 }, false],
  [1, 100, { count: 0, share: 1 }, true],
  [1000, 100000, { count: 1000, share: 0.2 }, false],
  [1001, 100000, { count: 1000, share: 0.2 }, true],
  [10, 10, { count: 1000, share: 0.2 }, false], // a small item may lose a few: the share rule waits for more than 10
  [11, 12, { count: 1000, share: 0.2 }, true],
  [20, 100, { count: 1000, share: 0.2 }, false],
  [21, 100, { count: 1000, share: 0.2 }, true],
]
for (const [files, held, l, over] of limits)
  test(`overLimit: ${files} of ${held} files, ${JSON.stringify(l)} -> ${over ? 'refused' : 'allowed'}`, () => {
    assert.is(overLimit(files, held, l) !== undefined, over)
  })

test('judgeRemovals (sftp): counts files, not directories; names the paths sorted, directories with "/"', () => {
  const dst = new Map(['a', 'b', 'd', 'd/x', 'keep'].map((rel) => [rel, { type: rel === 'd' ? 'dir' : 'file' }]))
  const r = judgeRemovals(
    [
      { rel: 'd/x', type: 'file' },
      { rel: 'd', type: 'dir' },
      { rel: 'b', type: 'file' },
    ],
    dst,
    { count: 1, share: 1 },
  )!
  assert.equal([r.count, r.held, r.total, r.paths], [2, 4, 3, ['b', 'd/', 'd/x']])
  assert.match(describeRefusal(r), /^refused to delete 2 of the 4 files the target holds \(limit maxDelete.count 1\): b, d\/, d\/x; nothing was deleted/)
  assert.is(judgeRemovals([{ rel: 'b', type: 'file' }], dst, { count: 1, share: 1 }), undefined)
  assert.is(judgeRemovals([], dst, { count: 0, share: 0 }), undefined)
})

// ---- the inventory fields ---------------------------------------------------------------------

const inv = (sync: Record<string, unknown>) =>
  JSON.stringify({
    version: 1,
    pairs: [
      {
        name: 'p',
        primary: 'a',
        nodes: [
          { name: 'a', address: '198.51.100.11' },
          { name: 'b', address: '198.51.100.12' },
        ],
        sync,
      },
    ],
  })
const problems = (text: string) => {
  try {
    parseInventory(text, 'x.json')
    return []
  } catch (e) {
    if (e instanceof InputError) return e.problems
    throw e
  }
}
const item = (extra: Record<string, unknown> = {}) => ({ name: 'app', path: '/srv/app', mirror: true, ...extra })
const fields: [string, string, string | undefined][] = [
  ['item and pair-wide limits', inv({ items: [item({ maxDelete: { count: 0, share: 1 } })], maxDelete: { count: 50, share: 0.05 } }), undefined],
  ['an empty limit (all defaults)', inv({ items: [item({ maxDelete: {} })] }), undefined],
  ['a negative count', inv({ items: [item({ maxDelete: { count: -1 } })] }), 'pairs/0/sync/items/0/maxDelete/count'],
  ['a fractional count', inv({ items: [item({ maxDelete: { count: 1.5 } })] }), 'pairs/0/sync/items/0/maxDelete/count'],
  ['a share above 1', inv({ items: [item()], maxDelete: { share: 1.5 } }), 'pairs/0/sync/maxDelete/share'],
  ['a share below 0', inv({ items: [item({ maxDelete: { share: -0.1 } })] }), 'pairs/0/sync/items/0/maxDelete/share'],
  ['an unknown key', inv({ items: [item({ maxDelete: { files: 3 } })] }), 'pairs/0/sync/items/0/maxDelete/files'],
  [
    'a limit on an item that never deletes',
    inv({ items: [item({ mirror: false, maxDelete: { count: 3 } })] }),
    'pairs/0/sync/items/0/maxDelete: only applies to mirror items',
  ],
]
for (const [name, text, want] of fields)
  test(`inventory maxDelete: ${name}`, () => {
    const got = problems(text)
    if (!want) assert.equal(got, [])
    else
      assert.ok(
        got.some((l) => l.includes(want)),
        `want "${want}" among ${JSON.stringify(got)}`,
      )
  })

// ---- real rsync ------------------------------------------------------------------------------

const root = mkdtempSync(path.join(tmpdir(), 'hapair-delguard-'))
test.after(() => rmSync(root, { recursive: true, force: true }))
// The hop as rsync sees it (a remote shell), minus ssh: the "host" word is dropped and the
// remote rsync runs here.
const hop = path.join(root, 'hop')
writeFileSync(hop, '#!/bin/sh\n[ "$1" = -l ] && shift 2\nshift\nexec "$@"\n')
chmodSync(hop, 0o755)

function run(argv: string[]): Promise<Pass> {
  const i = argv.indexOf('-e')
  const local = [...argv.slice(0, i), '-e', hop, ...argv.slice(i + 2)]
  const r = spawnSync(local[0], local.slice(1), { encoding: 'utf8' })
  return Promise.resolve({ code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal })
}

let n = 0
/** A source with `keep` files, a target that also holds `extra` files the source lacks, protected and excluded files. */
function trees(keep: number, extra: number): RsyncOptions {
  const src = path.join(root, `src${++n}`),
    dst = path.join(root, `dst${n}`)
  for (const d of [src, dst]) mkdirSync(path.join(d, 'sub'), { recursive: true })
  for (let i = 0; i < keep; i++) for (const d of [src, dst]) writeFileSync(path.join(d, `k${i}`), `k${i}`)
  writeFileSync(path.join(src, 'new'), 'new on the source')
  if (extra) mkdirSync(path.join(dst, 'gone', 'deep'), { recursive: true })
  for (let i = 0; i < extra; i++) writeFileSync(path.join(dst, i % 2 ? `gone/deep/x${i}` : `x${i}`), 'only on the target')
  writeFileSync(path.join(dst, '.rhosts'), 'protected')
  writeFileSync(path.join(dst, 'scratch.tmp'), 'excluded')
  return {
    item: { name: 'i', path: src, mirror: true, exclude: ['*.tmp'] },
    protect: ['.rhosts'],
    target: { user: 'u', address: 'h', port: 22, hostKeyAlias: 'hapair-p@h' },
    knownHostsFile: '/dev/null',
    ioTimeoutSec: 30,
    holdDeletes: true,
    dst,
  } as RsyncOptions & { dst: string }
}
/** rsyncArgv/deleteArgv with the target's path pointed at the test's target tree. */
const toDst = (o: RsyncOptions & { dst?: string }) => (argv: string[]) => run([...argv.slice(0, -1), `u@h:${o.dst}/`])

test('rsync --max-delete=0: nothing deleted, exit 25, the count on stderr; the noise is stripped', async () => {
  const o = trees(5, 4)
  const r = await toDst(o)(rsyncArgv(o))
  assert.is(r.code, 25, r.stderr)
  assert.ok(parseHeldDeletes(r.stderr) >= 4, r.stderr)
  assert.not.match(withoutHeldNoise(r.stderr), /max-delete|cannot delete/)
  assert.ok(existsSync(path.join((o as any).dst, 'x0')) && existsSync(path.join((o as any).dst, 'new')), 'sent, nothing deleted')
  assert.equal(parseNonDirCounts(r.stdout), { source: 6, created: 1 })
})

test('nothing to delete: no second pass at all', async () => {
  const o = trees(3, 0)
  const calls: string[][] = []
  const r = await toDst(o)(rsyncArgv(o))
  const s = await settleHeldDeletes(
    async (a) => {
      calls.push(a)
      return toDst(o)(a)
    },
    o,
    r,
    { count: 0, share: 0 },
  )
  assert.equal([s.verdict.ok, s.deleted, s.refused, calls.length], [true, 0, undefined, 0])
})

test('within the limit: one deletion-only pass deletes what the source lacks, never protected or excluded paths', async () => {
  const o = trees(50, 6) as RsyncOptions & { dst: string }
  const r = await toDst(o)(rsyncArgv(o))
  const calls: string[][] = []
  const s = await settleHeldDeletes(
    async (a) => {
      calls.push(a)
      return toDst(o)(a)
    },
    o,
    r,
    { count: 1000, share: 0.2 },
  )
  assert.ok(s.verdict.ok, s.verdict.reason)
  assert.is(s.refused, undefined)
  assert.is(calls.length, 1, "no dry run when rsync's count is already within the limit")
  assert.ok(calls[0].includes('--existing') && calls[0].includes('--ignore-existing') && calls[0].includes('--delete'))
  assert.not.ok(existsSync(path.join(o.dst, 'x0')) || existsSync(path.join(o.dst, 'gone')))
  assert.ok(existsSync(path.join(o.dst, '.rhosts')) && existsSync(path.join(o.dst, 'scratch.tmp')), 'protected and excluded stay')
  assert.ok(s.deleted >= 6)
})

test('over the limit: nothing deleted, refused with the exact file count and the paths', async () => {
  const o = trees(5, 30) as RsyncOptions & { dst: string }
  const r = await toDst(o)(rsyncArgv(o))
  const s = await settleHeldDeletes(toDst(o), o, r, { count: 1000, share: 0.2 })
  assert.ok(s.verdict.ok)
  assert.ok(s.refused, 'refused')
  assert.is(s.refused!.count, 30)
  assert.is(s.refused!.held, 35) // the 5 files both hold, and the 30 only the target has ("new" was not there before)
  assert.is(s.refused!.paths.length, 20)
  assert.ok(s.refused!.total > 30, 'directories are listed, not counted')
  assert.match(s.refused!.limit, /maxDelete.share 0.2/)
  assert.ok(existsSync(path.join(o.dst, 'x0')) && existsSync(path.join(o.dst, 'gone/deep/x1')), 'nothing deleted')
  assert.ok(existsSync(path.join(o.dst, 'new')), 'the transfer itself went through')
})

test("rsync's count over the limit but the exact file count within it: the dry run decides, then deletes", async () => {
  const o = trees(0, 0) as RsyncOptions & { dst: string }
  // Two files in a three-deep directory: rsync counts 4 (nested directories too), the files are 2.
  mkdirSync(path.join(o.dst, 'a/b/c'), { recursive: true })
  writeFileSync(path.join(o.dst, 'a/b/c/1'), '')
  writeFileSync(path.join(o.dst, 'a/b/c/2'), '')
  const r = await toDst(o)(rsyncArgv(o))
  assert.ok(parseHeldDeletes(r.stderr) > 2, r.stderr)
  const calls: string[][] = []
  const s = await settleHeldDeletes(
    async (a) => {
      calls.push(a)
      return toDst(o)(a)
    },
    o,
    r,
    { count: 2, share: 1 },
  )
  assert.equal([s.refused, calls.length, calls[0].includes('--dry-run')], [undefined, 2, true])
  assert.not.ok(existsSync(path.join(o.dst, 'a')))
})

test('--force: one plain pass deletes everything the source lacks, protected and excluded paths still kept', async () => {
  const o = { ...trees(2, 30), holdDeletes: false } as RsyncOptions & { dst: string }
  const argv = rsyncArgv(o)
  assert.not.ok(argv.some((a) => a.startsWith('--max-delete')))
  const r = await toDst(o)(argv)
  assert.is(r.code, 0, r.stderr)
  assert.not.ok(existsSync(path.join(o.dst, 'x0')))
  assert.ok(existsSync(path.join(o.dst, '.rhosts')) && existsSync(path.join(o.dst, 'scratch.tmp')))
})

test('deleteArgv: the same filters as the transfer, paths after --', () => {
  const o = trees(0, 0)
  const a = deleteArgv(o, true)
  for (const f of ['--filter=P /.rhosts', '--filter=- /.rhosts', '--filter=P /.~tmp~', '--exclude=*.tmp', '--dry-run']) assert.ok(a.includes(f), f)
  assert.ok(a.indexOf('--exclude=*.tmp') < a.indexOf('--'))
})

test.run()
