import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { watchSettings, WATCH_DEFAULTS, leaseSettings } from '../../lib/inventory/watch-settings.ts'
import { parseInventory } from '../../lib/inventory/load.ts'
import { playbook } from '../helpers/playbook.ts'

const base = () => JSON.parse(readFileSync('inventory/lab.json', 'utf8'))

function problems(edit: (j: any) => void): string {
  const j = base()
  edit(j)
  try {
    parseInventory(JSON.stringify(j), 'inv.json')
    return ''
  } catch (e) {
    return (e as Error).message
  }
}

test('defaults, then inventory defaults, then the pair block', () => {
  const j = base()
  j.defaults.watch = { intervalMs: 25, holdDownMs: 5000 }
  j.pairs[0].watch = { holdDownMs: 7000 }
  const inv = parseInventory(JSON.stringify(j), 'inv.json')
  const w = watchSettings(inv.data, inv.data.pairs[0])
  assert.is(w.intervalMs, 25)
  assert.is(w.holdDownMs, 7000)
  assert.is(w.deadAfterMs, WATCH_DEFAULTS.deadAfterMs)
})

test('lease defaults and overrides', () => {
  const j = base()
  j.pairs[0].fencing = { driver: 'lease', lease: { leaseMs: 2000 } }
  const inv = parseInventory(JSON.stringify(j), 'inv.json')
  assert.equal(leaseSettings(inv.data.pairs[0]), { leaseMs: 2000, marginMs: 300, renewMs: 200 })
})

test('timer rules name the JSON path', () => {
  assert.match(
    problems((j) => {
      j.pairs[0].watch = { intervalMs: 100, deadAfterMs: 150 }
    }),
    'pairs/0/watch/deadAfterMs: must be at least 3 probe intervals',
  )
  assert.match(
    problems((j) => {
      j.defaults.watch = { hungAfterMs: 100 }
    }),
    'defaults/watch/hungAfterMs',
  )
  assert.match(
    problems((j) => {
      j.pairs[0].fencing = { driver: 'lease', lease: { leaseMs: 500, renewMs: 300 } }
    }),
    'pairs/0/fencing/lease/renewMs: must be at most a third of leaseMs',
  )
  assert.match(
    problems((j) => {
      j.pairs[0].fencing = { driver: 'lab', lease: { leaseMs: 500 } }
    }),
    'pairs/0/fencing/lease: only allowed with driver "lease"',
  )
  assert.match(
    problems((j) => {
      j.pairs[0].watch = { onServiceFailure: 'reboot' }
    }),
    'pairs/0/watch/onServiceFailure',
  )
  assert.match(
    problems((j) => {
      j.pairs[0].watch = { hooks: { webhook: 'not a url' } }
    }),
    'pairs/0/watch/hooks/webhook',
  )
  assert.is(
    problems(() => undefined),
    '',
  )
})

test('watch.ts with a bad watch block exits 2 and asks no node', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-watch-'))
  const j = base()
  j.pairs[0].watch = { intervalMs: 100, deadAfterMs: 150 }
  // An address nobody answers: were any node asked, the run would hang for the connect timeout.
  j.pairs[0].nodes[0].address = '198.51.100.250'
  const file = path.join(dir, 'inv.json')
  writeFileSync(file, JSON.stringify(j))
  const r = await playbook('watch', ['--inventory', file], { timeoutMs: 20_000 })
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, 'pairs/0/watch/deadAfterMs')
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
})

test('watch.ts: unknown command and bad --for exit 2', async () => {
  assert.is((await playbook('watch', ['frobnicate'])).code, 2)
  const r = await playbook('watch', ['pause', '--pair', 'demo', '--for', 'soon'])
  assert.is(r.code, 2)
  assert.match(r.stderr, '--for soon')
  assert.is((await playbook('watch', ['pause'])).code, 2)
})

test.run()
