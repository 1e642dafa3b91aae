import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decide, type DecideInput, type SurvivorEvidence } from '../../lib/watch/decide.ts'
import type { Track } from '../../lib/watch/ping.ts'

const cfg = { intervalMs: 20, deadAfterMs: 150, hungAfterMs: 1500, checkIntervalMs: 200 }
const NOW = 100_000
/** A probe that printed its last line `line` ms ago and its last reply `reply` ms ago. */
const tr = (reply: number | undefined, line = 0, since = 10_000, up = 9_000): Track => ({
  since: NOW - since,
  reply: reply === undefined ? undefined : NOW - reply,
  line: NOW - line,
  replies: 1,
  misses: 0,
  gapMs: 100,
  upSince: reply === undefined ? undefined : NOW - up,
})
const survivor = (node: string, o: { reach?: number; view?: number; viewLine?: number; checksOk?: number; checksLine?: number } = {}): SurvivorEvidence => ({
  node,
  ping: tr(o.reach ?? 5),
  view: tr(o.view, o.viewLine ?? 0),
  checks: { ...tr(undefined, o.checksLine ?? 0), checksOk: o.checksOk === undefined ? undefined : NOW - o.checksOk },
})
const input = (o: Partial<DecideInput> & { ping?: Track; checksOk?: number; sshOk?: number } = {}): DecideInput => ({
  now: NOW,
  since: NOW - 10_000,
  cfg,
  active: 'node-a',
  evidence: { ping: o.ping ?? tr(5), checksOk: NOW - (o.checksOk ?? 5), sshOk: NOW - (o.sshOk ?? 5) },
  survivors: o.survivors ?? [survivor('node-b', { view: 5 })],
  ...(o.since !== undefined ? { since: o.since } : {}),
})

const rows: [string, DecideInput, string, string[]?][] = [
  ['healthy', input(), 'ok'],
  ['one echo lost is nothing', input({ ping: tr(60) }), 'ok'],
  ['silent for deadAfter, survivor agrees: confirmed', input({ ping: tr(200), survivors: [survivor('node-b', { view: 200 })] }), 'confirmed', ['node-b']],
  ['silent, but the survivor still sees it: vetoed', input({ ping: tr(200), survivors: [survivor('node-b', { view: 10 })] }), 'vetoed'],
  ['silent, survivor between the two marks: suspect', input({ ping: tr(200), survivors: [survivor('node-b', { view: 100 })] }), 'suspect'],
  [
    'silent, survivor unreachable for the watcher: no quorum',
    input({ ping: tr(200), survivors: [survivor('node-b', { reach: 600, view: 600 })] }),
    'no-quorum',
  ],
  [
    'silent, survivor view stale (its stream stopped): no quorum',
    input({ ping: tr(200), survivors: [survivor('node-b', { view: 400, viewLine: 400 })] }),
    'no-quorum',
  ],
  ['no survivors at all: no quorum', input({ ping: tr(200), survivors: [] }), 'no-quorum'],
  ['the probe itself stopped printing: not evidence', input({ ping: tr(400, 400), survivors: [survivor('node-b', { view: 400 })] }), 'ok'],
  ['silence that began before a stall does not count', input({ ping: tr(5000), since: NOW - 100, survivors: [survivor('node-b', { view: 5000 })] }), 'ok'],
  [
    'silence since the stall long enough: counts again',
    input({ ping: tr(5000), since: NOW - 200, survivors: [survivor('node-b', { view: 5000 })] }),
    'confirmed',
    ['node-b'],
  ],
  ['a probe just restarted has no evidence yet', input({ ping: { ...tr(undefined), since: NOW - 50 }, survivors: [survivor('node-b', { view: 400 })] }), 'ok'],
  [
    'three nodes: both survivors agree',
    input({ ping: tr(300), survivors: [survivor('node-b', { view: 300 }), survivor('node-c', { view: 300 })] }),
    'confirmed',
    ['node-b', 'node-c'],
  ],
  [
    'three nodes: one agrees, one sees it: vetoed',
    input({ ping: tr(300), survivors: [survivor('node-b', { view: 300 }), survivor('node-c', { view: 10 })] }),
    'vetoed',
  ],
  [
    'three nodes: one agrees, the other cannot be asked: confirmed by the one',
    input({ ping: tr(300), survivors: [survivor('node-b', { view: 300 }), survivor('node-c', { reach: 900, view: 900, viewLine: 900 })] }),
    'confirmed',
    ['node-b'],
  ],
  [
    'hung: echoes, but no check and no ssh for hungAfter; survivor checks fail too',
    input({ checksOk: 2000, sshOk: 2000, survivors: [survivor('node-b', { view: 5, checksOk: 2000 })] }),
    'confirmed',
    ['node-b'],
  ],
  [
    'hung for the watcher, the survivor still gets answers: vetoed',
    input({ checksOk: 2000, sshOk: 2000, survivors: [survivor('node-b', { view: 5, checksOk: 100 })] }),
    'vetoed',
  ],
  [
    'checks fail but ssh answers: a service problem, not a dead node',
    input({ checksOk: 5000, sshOk: 10, survivors: [survivor('node-b', { view: 5, checksOk: 5000 })] }),
    'ok',
  ],
  [
    'no ping of the survivor: its stream arriving is the proof it is there',
    input({ ping: tr(200), survivors: [{ ...survivor('node-b', { view: 200 }), ping: undefined }] }),
    'confirmed',
    ['node-b'],
  ],
  [
    'no ping of the survivor and its stream stopped: no quorum',
    input({ ping: tr(200), survivors: [{ ...survivor('node-b', { view: 900, viewLine: 900 }), ping: undefined }] }),
    'no-quorum',
  ],
  ['ssh slow but checks answer: fine', input({ checksOk: 10, sshOk: 5000 }), 'ok'],
  [
    'echoes back for 0.5 s after a partition healed, checks not yet: not hung',
    input({ ping: tr(5, 0, 10_000, 500), checksOk: 4000, sshOk: 4000, survivors: [survivor('node-b', { view: 5, checksOk: 4000 })] }),
    'ok',
  ],
]
for (const [name, i, want, agree] of rows) {
  test(name, () => {
    const v = decide(i)
    assert.is(v.state, want, v.reason)
    if (agree) assert.equal(v.agree, agree)
    assert.ok(v.reason.length > 0)
  })
}

test('a vetoed verdict names who vetoed and says the watcher is cut off', () => {
  const v = decide(input({ ping: tr(200), survivors: [survivor('node-b', { view: 10 })] }))
  assert.equal(v.vetoedBy, ['node-b'])
  assert.match(v.reason, /this watcher is the one cut off/)
})

test.run()
