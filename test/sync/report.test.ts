import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatReport } from '../../lib/sync/report.ts'
import { siBytes as bytes } from '../../lib/format.ts'
import type { ItemResult, SyncReport } from '../../lib/sync/types.ts'

const r = (o: Partial<ItemResult>): ItemResult => ({
  item: 'app',
  target: 'node-b',
  transport: 'rsync',
  priority: 0,
  outcome: 'ok',
  files: 3,
  sent: 1,
  deleted: 0,
  unchanged: 2,
  bytes: 1234,
  startedAt: 'T',
  ms: 250,
  ...o,
})
const rep = (o: Partial<SyncReport>): SyncReport => ({
  pair: 'demo',
  source: 'node-a',
  activeFrom: 'inventory',
  epoch: 0,
  targets: ['node-b'],
  dryRun: false,
  results: [],
  pinned: [],
  degraded: null,
  exitCode: 0,
  ms: 1200,
  ...o,
})

test('bytes', () => {
  assert.equal([0, 999, 1000, 1234, 52_428_800, 3e12].map(bytes), ['0 B', '999 B', '1.00 kB', '1.23 kB', '52.4 MB', '3.00 TB'])
})

test('a clean run: one line per item and target, and "in sync"', () => {
  const text = formatReport(rep({ results: [r({ item: 'config', transport: 'sftp' }), r({})] }))
  assert.match(text, 'sync pair demo from node-a (active: the inventory primary, no failover recorded) to node-b')
  assert.match(text, /config\s+-> node-b\s+sftp\s+OK\s+3 files: 1 sent, 0 deleted, 2 unchanged, 1.23 kB, 0.25 s/)
  assert.match(text, 'in sync: nothing pending')
  assert.match(text, 'exit 0')
})

test('skips and failures give their reason; degraded names what is held for whom', () => {
  const text = formatReport(
    rep({
      epoch: 3,
      activeFrom: 'epoch',
      exitCode: 4,
      results: [r({ outcome: 'skipped', reason: 'policy equal needs equal versions' }), r({ target: 'node-c', outcome: 'pending', reason: 'unreachable' })],
      degraded: { since: 'S', reason: 'x', pending: { 'node-c': ['app', 'config'] } },
    }),
  )
  assert.match(text, '(active, epoch 3)')
  assert.match(text, /SKIPPED\s+policy equal needs equal versions/)
  assert.match(text, /PENDING\s+unreachable/)
  assert.match(text, 'DEGRADED since S: node-c lacks app, config')
})

test('a dry run lists the changes and says nothing about the mark', () => {
  const text = formatReport(rep({ dryRun: true, results: [r({ outcome: 'dry-run', changes: ['>f+++++++++ new file', '*deleting   old'] })] }))
  assert.match(text, /^dry run: sync pair demo/)
  assert.match(text, '      >f+++++++++ new file\n      *deleting   old')
  assert.not.match(text, 'in sync')
})

test.run()
