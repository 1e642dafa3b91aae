// The watcher's combined read (lib/watch/refresh.ts) must answer exactly what the three readers
// it replaces answer (activeView, readPause, interruptedRun). Both run here against real files
// through a real sh, one state directory per "node", so the scripts are what is tested, not a copy.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RemoteError } from '../../lib/errors.ts'
import type { SshPool } from '../../lib/ssh.ts'
import { activeView } from '../../lib/active.ts'
import { readPause } from '../../lib/watch/pause.ts'
import { interruptedRun } from '../../lib/watch/resume.ts'
import { readWatchState, splitWatchRead, watchReadScript } from '../../lib/watch/refresh.ts'
import { localNodes, pair } from '../helpers/local-nodes.ts'

let root: string
const { localPool, put } = localNodes(() => root)
const NOW = Date.parse('2030-01-01T12:00:00Z')
const record = (epoch: number, active: string) => JSON.stringify({ epoch, active, since: `2030-01-01T11:0${epoch}:00Z`, by: 'test' })
const owner = (expires: string) => JSON.stringify({ owner: 'ops@gone pid 1', host: 'gone', pid: 1, operation: 'failover', at: '2030-01-01T11:58:00Z', expires })
const journal = (epoch: number, steps: string[]) => JSON.stringify({ operation: 'failover', from: 'node-a', to: 'node-b', epoch, steps })

test.before.each(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'hapair-refresh-'))
})
test.after.each(() => {
  rmSync(root, { recursive: true, force: true })
})

async function both(pool: SshPool) {
  const [view, pause, left] = await Promise.all([activeView(pool, pair), readPause(pool, pair), interruptedRun(pool, pair, [], NOW)])
  const r = await readWatchState(pool, pair, { now: NOW })
  return { old: { view, pause, left }, r }
}
const actives = (v: { states: Record<string, { active?: unknown }> }) => Object.fromEntries(Object.entries(v.states).map(([n, s]) => [n, s.active]))

test('the same answer as activeView, readPause and interruptedRun, in one command per node', async () => {
  put('node-a', 'active.json', record(3, 'node-a'))
  put('node-b', 'active.json', record(4, 'node-b'))
  put('node-a', 'sync.json', '{"items":{}}') // not the watcher's concern: the combined read leaves it out
  put('node-a', 'watch-pause.json', JSON.stringify({ paused: true, at: '2030-01-01T11:00:00Z', by: 'op', reason: 'kernel update' }))
  put('node-b', 'watch-pause.json', JSON.stringify({ paused: false, at: '2030-01-01T11:30:00Z', by: 'op' }))
  put('node-b', 'lock/owner', owner('2030-01-01T11:59:00Z'))
  put('node-b', 'lock/journal', journal(5, ['lock', 'fence']))
  const runs: string[] = []
  const { old, r } = await both(localPool({ runs }))
  const mine = runs.splice(0)
  await readWatchState(localPool({ runs }), pair, { now: NOW })
  assert.equal(runs.sort(), ['node-a', 'node-b'], 'one command per node')
  assert.is(mine.length, 8, 'the three readers: two commands each, plus this one')
  for (const k of ['active', 'epoch', 'source', 'record', 'unreachable'] as const) assert.equal(r.view[k], old.view[k], k)
  assert.equal(actives(r.view), actives(old.view))
  assert.is(r.view.active, 'node-b')
  assert.is(r.view.epoch, 4)
  assert.equal(r.pause, old.pause)
  assert.is(r.pause?.paused, false, 'the newest stamp wins')
  assert.equal(r.left, old.left)
  assert.equal(r.left, { node: 'node-b', journal: JSON.parse(journal(5, ['lock', 'fence'])) })
})

test('nothing on the nodes: the inventory primary, no pause, nothing to finish', async () => {
  const { old, r } = await both(localPool())
  assert.is(r.pause, undefined)
  assert.is(r.left, undefined)
  assert.is(r.view.active, 'node-a')
  assert.is(r.view.source, 'inventory')
  assert.equal(actives(r.view), actives(old.view))
})

test('a live lock is not finished; a bad record is reported, never believed', async () => {
  put('node-a', 'active.json', '{"epoch": "9", "active": "node-b"}')
  put('node-b', 'active.json', record(2, 'node-a'))
  put('node-a', 'lock/owner', owner('2030-01-01T12:01:00Z'))
  put('node-a', 'lock/journal', journal(3, ['lock']))
  put('node-b', 'watch-pause.json', 'not json')
  const { old, r } = await both(localPool())
  assert.is(r.left, undefined)
  assert.equal(r.left, old.left)
  assert.is(r.pause, undefined)
  assert.equal(r.view.states['node-a'].corrupt, ['active.json'])
  assert.equal(r.view.states['node-a'].bad, old.view.states['node-a'].bad)
  assert.is(r.view.active, 'node-a')
  assert.is(r.view.epoch, 2)
})

test('an unreachable node: counted as such, the other node answers for all three', async () => {
  put('node-a', 'active.json', record(7, 'node-b'))
  put('node-a', 'watch-pause.json', JSON.stringify({ paused: true, at: '2030-01-01T11:00:00Z', by: 'op' }))
  const { old, r } = await both(localPool({ unreachable: ['node-b'] }))
  assert.equal(Object.keys(r.view.unreachable), ['node-b'])
  assert.equal(r.view.unreachable, old.view.unreachable)
  assert.ok(r.view.errors?.['node-b'] instanceof RemoteError)
  assert.is(r.view.active, 'node-b')
  assert.is(r.pause?.paused, true)
})

test('sections: all three, in order, once each; anything else is no answer', () => {
  const script = watchReadScript(pair)
  assert.ok(script.indexOf('hapair-state') < script.indexOf('hapair-pause') && script.indexOf('hapair-pause') < script.indexOf('hapair-lock'))
  assert.equal(splitWatchRead('\x1dhapair-state\x1dS\x1dhapair-pause\x1dP\x1dhapair-lock\x1dL'), { state: 'S', pause: 'P', lock: 'L' })
  for (const bad of [
    '',
    'garbage',
    '\x1dhapair-state\x1dS\x1dhapair-pause\x1dP',
    '\x1dhapair-pause\x1dP\x1dhapair-state\x1dS\x1dhapair-lock\x1dL',
    '\x1dhapair-state\x1dS\x1dhapair-pause\x1dP\x1dx\x1d\x1dhapair-lock\x1dL',
    'x\x1dhapair-state\x1dS\x1dhapair-pause\x1dP\x1dhapair-lock\x1dL',
  ]) {
    assert.is(splitWatchRead(bad), undefined, JSON.stringify(bad))
  }
})

test('a record holding the marker byte: that node reads as not answering, never as a wrong record', async () => {
  put('node-a', 'active.json', record(9, 'node-b'))
  put('node-a', 'watch-pause.json', '{"paused":true,"at":"2030-01-01T11:00:00Z","by":"\x1dhapair-lock\x1d"}')
  put('node-b', 'active.json', record(1, 'node-a'))
  const r = await readWatchState(localPool(), pair, { now: NOW })
  assert.equal(Object.keys(r.view.unreachable), ['node-a'])
  assert.match(r.view.unreachable['node-a'], 'no complete answer')
  assert.is(r.view.epoch, 1)
})

test.run()
