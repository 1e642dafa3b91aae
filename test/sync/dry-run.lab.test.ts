// sync --dry-run as a person reads it, on a real lab pair: 2,000 new files in one item give a
// few lines per item and target (counts, bytes a real run would send, the first 20 paths), not
// one line per file; --verbose lists every path, and --json still carries the full list.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { playbook } from '../helpers/playbook.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { loud, script } from './_lab.ts'

let lab: TestLab
const FILES = 2000
const SIZE = 1024
const GONE = 5

const sync = (...args: string[]) => playbook('sync', ['--inventory', lab.file, ...args], { timeoutMs: 60000 })

test.before(
  loud(async () => {
    lab = await startTestLab()
    // A real sync first: it pins the hop, so the dry run is about the files alone.
    const first = await sync('--item', 'app')
    assert.is(first.code, 0, first.stdout + first.stderr)
    // 2,000 new files of 1 KiB in 20 directories on the source; 5 files only the target has (mirror: deleted).
    await script(
      lab,
      'node-a',
      `set -e; cd /srv/app; for d in $(seq -w 1 20); do mkdir -p many/d$d
    for f in $(seq -w 1 100); do head -c ${SIZE} /dev/zero > many/d$d/f$f.bin; done; done`,
    )
    await script(lab, 'node-b', `set -e; mkdir -p /srv/app/many; for i in $(seq 1 ${GONE}); do echo gone > /srv/app/many/gone-$i.txt; done`)
  }),
)
test.after(async () => {
  await lab?.down()
})

test('2,000 files: a short report with the counts, non-zero bytes and the first 20 paths', async () => {
  const r = await sync('--dry-run', '--item', 'app')
  const lines = r.stdout.trimEnd().split('\n')
  console.log(`      dry run of ${FILES} files: ${lines.length} lines`)
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.ok(lines.length <= 30, `${lines.length} lines:\n${r.stdout.slice(0, 3000)}`)
  const head = lines.find((l) => /app\s+-> node-b/.test(l))
  assert.ok(head, r.stdout)
  assert.match(head!, new RegExp(`would send ${FILES} files \\(2\\.05 MB\\), delete ${GONE}`), head)
  assert.not.match(head!, / 0 B/)
  const paths = lines.filter((l) => /^ {6}([<>]f|cd|\*deleting|\.d)/.test(l))
  assert.is(paths.length, 20, r.stdout)
  const more = lines.find((l) => /more changes/.test(l))
  assert.ok(more, r.stdout)
  const total = Number(/(\d+) more changes/.exec(more!)![1]) + 20
  assert.ok(total >= FILES + GONE + 20, `${total} changes in all: the files, the deletions, the directories`)
  assert.match(more!, '--verbose')
  // Nothing was written: the target still lacks the files and holds the ones a real run deletes.
  assert.is((await lab.exec('node-b', ['test', '-e', '/srv/app/many/d01/f001.bin'])).code, 1)
  assert.is((await lab.exec('node-b', ['test', '-e', '/srv/app/many/gone-1.txt'])).code, 0)
})

test("--verbose lists every path; --json keeps the full itemised list and the report's shape", async () => {
  const v = await sync('--dry-run', '--item', 'app', '--verbose')
  assert.is(v.code, 0, v.stderr)
  const listed = v.stdout.split('\n').filter((l) => /^ {6}([<>]f|cd|\*deleting|\.d)/.test(l))
  assert.ok(listed.length >= FILES + GONE, `${listed.length} paths listed`)
  assert.ok(
    listed.some((l) => l.endsWith('many/d20/f100.bin')) && listed.some((l) => l === `      *deleting   many/gone-${GONE}.txt`),
    'the last file and the deletions are listed',
  )
  assert.not.match(v.stdout, /more changes/)

  const j = await sync('--dry-run', '--item', 'app', '--json')
  assert.is(j.code, 0, j.stderr)
  const rep = JSON.parse(j.stdout)
  const app = rep.results[0]
  assert.equal(Object.keys(app).sort(), [
    'bytes',
    'changes',
    'deleted',
    'files',
    'item',
    'ms',
    'outcome',
    'priority',
    'sent',
    'startedAt',
    'target',
    'transport',
    'unchanged',
    'versions',
    'wireBytes',
  ])
  assert.equal([app.outcome, app.sent, app.deleted, app.bytes], ['dry-run', FILES, GONE, 0], 'values as before (a dry run sends no data)')
  assert.ok(app.changes.length >= FILES + GONE, `${app.changes.length} changes in the JSON`)
})

test.run()
