// The follower's pure parts: what inotifywait's records mean, the batching and confirmation of
// the in-flight list, the rsync vector of a batch, and the metrics text.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createRequire } from 'node:module'
import { asBytes, display, merge, parseEvent, RecordSplitter, watchTrouble } from '../../lib/sync/follow/events.ts'
import { describeInflight, InFlight, inflightRecord, checkInflight } from '../../lib/sync/follow/inflight.ts'
import { renderMetrics } from '../../lib/sync/follow/metrics.ts'
import { filesFrom, followArgv } from '../../lib/sync/follow/ship.ts'
import { FloodGauge } from '../../lib/sync/follow/watch.ts'
import type { Pair } from '../../lib/inventory/schema.ts'

const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  t: string,
) => { name: string; type: string; metrics: { value: string; labels: Record<string, string> }[] }[]

const pair = {
  name: 'p',
  primary: 'a',
  nodes: [
    { name: 'a', address: '198.51.100.11' },
    { name: 'b', address: '198.51.100.12' },
  ],
  sync: { items: [{ name: 'app', path: '/srv/app', mirror: true, protect: ['/srv/app/local'] }], nodeKnownHostsFile: '/k' },
} as unknown as Pair

test('records: split on NUL across chunks, names with newlines and non-UTF-8 bytes kept', () => {
  const s = new RecordSplitter()
  const raw = Buffer.concat([Buffer.from('CREATE|/srv/app/new\nline\0CLOSE_WRITE,CLOSE|/srv/app/x'), Buffer.from([0xff]), Buffer.from('\0MOVED_')])
  const got = s.push(raw)
  assert.equal(got.length, 2)
  assert.equal(parseEvent(got[0], '/srv/app'), { kind: 'change', rel: 'new\nline', change: 'open', dir: false })
  const e = parseEvent(got[1], '/srv/app')
  assert.ok(e && e.kind === 'change')
  if (e?.kind === 'change') assert.equal(Buffer.from(e.rel, 'latin1'), Buffer.from([0x78, 0xff]))
  assert.equal(
    s.push(Buffer.from('TO|/srv/app/y\0')).map((r) => parseEvent(r, '/srv/app')),
    [{ kind: 'change', rel: 'y', change: 'changed', dir: false }],
  )
  assert.is(display(asBytes('ünï')), 'ünï')
})

test('events: what each one asks of the next batch', () => {
  const p = (r: string) => parseEvent(r, '/srv/app')
  assert.equal(p('CREATE,ISDIR|/srv/app/d'), { kind: 'change', rel: 'd', change: 'tree', dir: true })
  assert.equal(p('MOVED_TO,ISDIR|/srv/app/d2'), { kind: 'change', rel: 'd2', change: 'tree', dir: true })
  assert.equal(p('DELETE,ISDIR|/srv/app/d'), { kind: 'change', rel: 'd', change: 'gone', dir: true })
  assert.equal(p('MOVED_FROM|/srv/app/f'), { kind: 'change', rel: 'f', change: 'gone', dir: false })
  assert.equal(p('ATTRIB|/srv/app/f'), { kind: 'change', rel: 'f', change: 'changed', dir: false })
  assert.equal(p('ATTRIB,ISDIR|/srv/app/'), undefined, 'the root itself: left to the full pass')
  assert.equal(p('CREATE|/srv/application/x'), undefined, 'another directory with the same prefix')
  assert.equal(p('Q_OVERFLOW|')?.kind, 'overflow')
  assert.equal(p('DELETE_SELF|/srv/app/')?.kind, 'root-gone')
  assert.ok(watchTrouble('Failed to watch /srv/app; upper limit on inotify watches reached!'))
  assert.ok(watchTrouble("Couldn't watch new directory /srv/app/x: No space left on device"))
  assert.is(watchTrouble('Watches established.'), undefined)
  assert.is(merge('tree', 'changed'), 'tree')
  assert.is(merge('open', 'changed'), 'changed')
  assert.is(merge('changed', 'gone'), 'gone')
  assert.is(merge('gone', 'open'), 'open')
})

test('in-flight: a batch confirms only what did not change again while it ran', () => {
  const t = new InFlight(['b', 'c'])
  t.note('app', 'x', 'changed', false, 1000)
  t.note('app', 'y', 'changed', false, 1010)
  const batch = t.take('b', 1200)
  assert.is(batch.size, 2)
  t.note('app', 'x', 'changed', false, 1300) // changed again while the batch was on its way
  assert.is(t.confirm(batch, 'app'), 1)
  assert.equal(
    t.entries('b').map((e) => e.rel),
    ['x'],
  )
  assert.is(t.entries('b')[0].since, 1000, 'the oldest unconfirmed change counts for the lag')
  assert.is(t.lagSeconds('b', 3000), 2)
  assert.is(t.count('c'), 2, 'each target has its own list')
  assert.is(t.lagSeconds('b', 3000) > 0 && t.lagSeconds('nobody', 3000), 0)
})

test('in-flight: a file created and not yet closed waits for its close, up to holdOpenMs', () => {
  const t = new InFlight(['b'], { holdOpenMs: 1000 })
  t.note('app', 'big', 'open', false, 0)
  assert.is(t.take('b', 500).size, 0)
  assert.is(t.nextOpenReady('b', 500), 500)
  t.note('app', 'big', 'changed', false, 600)
  assert.is(t.take('b', 600).size, 1, 'closed: ships at once')
  t.note('app', 'link', 'open', false, 0)
  assert.is(
    t
      .take('b', 1000)
      .byItem.get('app')!
      .map((e) => e.rel)
      .sort()
      .join(),
    'big,link',
    'a symlink never closes: it ships after the hold',
  )
})

test('in-flight: an overflow gives the list up for a full pass, which confirms what it covered', () => {
  const t = new InFlight(['b'], { maxPending: 3 })
  t.note('app', 'a', 'changed', false, 0)
  t.needFull('b', ['app'])
  assert.is(t.count('b'), 0)
  t.note('app', 'later', 'changed', false, 5)
  assert.is(t.count('b'), 0, 'a full pass is owed: it covers new changes of the item too')
  assert.equal(t.fullOwed('b'), ['app'])
  const seq = t.lastSeq
  t.fullDone('b', ['app'], seq)
  t.note('app', 'n1', 'changed', false, 10)
  assert.is(t.count('b'), 1)
  for (const n of ['n2', 'n3', 'n4']) t.note('app', n, 'changed', false, 11)
  assert.equal(t.fullOwed('b'), ['app'], 'over maxPending: the list is given up, not grown without bound')
  assert.is(t.count('b'), 0)
})

test('in-flight record: what a target lacks, shaped for the node and for status', () => {
  const t = new InFlight(['b'])
  t.note('app', 'x', 'changed', false, Date.parse('2024-05-01T00:00:00Z'))
  t.note('app', 'gone', 'gone', false, Date.parse('2024-05-01T00:00:01Z'))
  const rec = inflightRecord(pair, t, { source: 'a', epoch: 3, node: 'b', now: Date.parse('2024-05-01T00:00:02Z'), by: 'me' })
  assert.is(rec.count, 2)
  assert.equal(
    rec.paths.map((p) => p.path),
    ['/srv/app/x', '/srv/app/gone'],
  )
  assert.is(checkInflight(rec, pair), undefined)
  assert.ok(checkInflight({ ...rec, source: 'zz' }, pair))
  assert.match(describeInflight(pair, rec, 'b')!, /2 path\(s\) changed on a had not reached b when it took over: \/srv\/app\/x, \/srv\/app\/gone/)
  assert.match(describeInflight(pair, rec, 'a')!, /2 path\(s\) in flight from a to b/)
  assert.is(describeInflight(pair, { ...rec, count: 0, paths: [] }, 'a'), undefined)
})

test('batch rsync: every rule of a full sync, paths on stdin, deletions only for mirror items', () => {
  const item = pair.sync!.items[0]
  const base = {
    item,
    protect: ['local'],
    target: { user: 'root', address: '198.51.100.12', port: 22, hostKeyAlias: 'hapair-p@b' },
    knownHostsFile: '/k',
    ioTimeoutSec: 5,
  }
  const m = followArgv({ ...base, deletes: true })
  for (const w of [
    '--files-from=-',
    '--from0',
    '-r',
    '-s',
    '--delete-missing-args',
    '--filter=P /local',
    '--filter=- /local',
    '--filter=P /.~tmp~',
    '--partial-dir=/srv/app/.~tmp~',
    '--timeout=5',
  ])
    assert.ok(m.includes(w), w)
  assert.not.ok(m.includes('--inplace'))
  assert.not.ok(m.includes('--delete'), 'no sweeping --delete: only the listed paths')
  assert.equal(m.slice(-3), ['--', '/srv/app/', 'root@198.51.100.12:/srv/app/'])
  assert.match(m[m.indexOf('-e') + 1], /StrictHostKeyChecking=yes.*/)
  const n = followArgv({ ...base, deletes: false })
  assert.ok(n.includes('--ignore-missing-args'))
  assert.not.ok(n.includes('--delete-missing-args'))
  assert.equal(filesFrom([{ rel: 'a\nb' } as any, { rel: asBytes('ü') } as any]), Buffer.from('a\nb\0ü\0', 'utf8'))
})

test('metrics: valid Prometheus text with lag, pending and bytes per target', () => {
  const text = renderMetrics([
    {
      pair: 'p',
      source: 'a',
      events: 7,
      overflows: 1,
      targets: [{ target: 'b', lagSeconds: 0.25, pendingPaths: 3, up: false, bytesShipped: 1234, filesShipped: 2, filesDeleted: 1, batches: 4, fullPasses: 1 }],
    },
  ])
  const fam = Object.fromEntries(parsePrometheus(text).map((f: any) => [f.name, f]))
  assert.is(fam.hapair_follow_lag_seconds.metrics[0].value, '0.25')
  assert.equal(fam.hapair_follow_lag_seconds.metrics[0].labels, { pair: 'p', source: 'a', target: 'b' })
  assert.is(fam.hapair_follow_pending_paths.metrics[0].value, '3')
  assert.is(fam.hapair_follow_bytes_shipped_total.type, 'COUNTER')
  assert.is(fam.hapair_follow_target_up.metrics[0].value, '0')
  assert.is(fam.hapair_follow_overflows_total.metrics[0].value, '1')
})

test("flood gauge: a queue's worth of events in one window counts as an overflow, once", () => {
  const g = new FloodGauge(1000, 0.9)
  g.queue = 1000
  assert.is(g.add(500, 0), undefined)
  assert.is(g.add(300, 500), undefined)
  assert.match(g.add(200, 900)!, /1000 events arrived within 1000 ms.*max_queued_events 1000/)
  assert.is(g.add(500, 950), undefined, 'said once per window')
  assert.is(g.add(800, 2000), undefined, 'a new window starts from zero')
})

test.run()
