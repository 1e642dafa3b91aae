// The commands printed after a failure are meant to be copied. They must act on the inventory the
// failed run used: without its --inventory, a copied hint falls back to inventory/lab.json, the demo lab.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { inventoryFrom, parseArgs } from '../lib/cli.ts'
import { PG_REJOIN } from '../lib/options/pg-rejoin.ts'
import { playbookCommand, setHintInventory } from '../lib/hint.ts'
import { describeLock, finishCommand } from '../lib/lock.ts'
import { problemsMessage, type Observation } from '../lib/observe.ts'
import { guardLock } from '../lib/sync/index.ts'
import { judgeTimelines } from '../lib/checks/postgres.ts'
import { formatResult } from '../lib/failover/report.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair hint-'))
test.after(() => {
  rmSync(dir, { recursive: true, force: true })
  setHintInventory(undefined)
})
// A directory with a space: the hint must still be one word per argument when pasted into a shell.
const inv = path.join(dir, 'prod site', 'inventory.json')
mkdirSync(path.dirname(inv))
copyFileSync('inventory/lab.json', inv)

/** The words a POSIX shell makes of a pasted hint (after "npx zx"). */
function words(cmd: string): string[] {
  assert.match(cmd, /^npx zx playbooks\/[a-z-]+\.ts /)
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${cmd.replace(/^npx zx /, '')}`], { encoding: 'utf8' })
  return out.trimEnd().split('\n')
}
const inventoryOf = (cmd: string) => {
  const w = words(cmd)
  const i = w.indexOf('--inventory')
  return i < 0 ? undefined : w[i + 1]
}
const commands = (text: string) => [...text.matchAll(/`(npx zx [^`]+)`|\((npx zx [^)]+)\)|then: (npx zx .+)$/g)].map((m) => m[1] ?? m[2] ?? m[3])

const owner = JSON.stringify({ owner: 'ops@ctl', host: 'ctl', pid: 1, operation: 'failover', at: '2024-01-01T00:00:00Z', expires: '2024-01-01T00:01:00Z' })
const journal = JSON.stringify({ operation: 'failover', from: 'node-a', to: 'node-b', epoch: 3, steps: [] })

test('without --inventory (the default lab) the hint names none', () => {
  const loaded = inventoryFrom(parseArgs(PG_REJOIN, []))
  const pair = loaded.data.pairs[0]
  assert.is(finishCommand(pair, 'failover'), 'npx zx playbooks/failover.ts --pair demo --yes')
})

test('--inventory FILE: every hint carries it, quoted so a shell reads one word', () => {
  const loaded = inventoryFrom(parseArgs(PG_REJOIN, ['--inventory', inv]))
  const pair = loaded.data.pairs[0]
  const hints = [
    finishCommand(pair, 'failback'),
    ...commands(describeLock(pair, 'node-a', owner, '', Date.parse('2024-02-01T00:00:00Z'))),
    ...commands(describeLock(pair, 'node-a', owner, journal, Date.parse('2024-02-01T00:00:00Z'))),
    playbookCommand('pg-rejoin', ['--pair', pair.name]),
  ]
  assert.ok(hints.length >= 4, JSON.stringify(hints))
  for (const h of hints) assert.is(inventoryOf(h), inv, h)
  assert.equal(words(finishCommand(pair, 'failback')), ['playbooks/failback.ts', '--pair', 'demo', '--yes', '--inventory', inv])
})

test('$HAPAIR_INVENTORY counts as passed: the operator copying from the journal has no such variable', () => {
  const was = process.env.HAPAIR_INVENTORY
  process.env.HAPAIR_INVENTORY = inv
  try {
    const loaded = inventoryFrom(parseArgs(PG_REJOIN, []))
    assert.is(inventoryOf(finishCommand(loaded.data.pairs[0], 'failover')), inv)
  } finally {
    if (was === undefined) delete process.env.HAPAIR_INVENTORY
    else process.env.HAPAIR_INVENTORY = was
  }
})

test('a relative --inventory is printed absolute: the hint works from any directory', () => {
  const rel = path.relative(process.cwd(), inv)
  const loaded = inventoryFrom(parseArgs(PG_REJOIN, ['--inventory', rel]))
  assert.is(inventoryOf(finishCommand(loaded.data.pairs[0], 'failover')), inv)
})

test('the refusals of sync, failover and verify name the inventory in their commands', () => {
  const loaded = inventoryFrom(parseArgs(PG_REJOIN, ['--inventory', inv]))
  const pair = loaded.data.pairs[0]
  let msg = ''
  try {
    guardLock(pair, [{ node: 'node-a', lock: owner, journal }], Date.parse('2024-02-01T00:00:00Z'))
  } catch (e) {
    msg = (e as Error).message
  }
  assert.ok(commands(msg).length, msg)
  for (const c of commands(msg)) assert.is(inventoryOf(c), inv, msg)
  try {
    guardLock(pair, [{ node: 'node-a', lock: owner, journal: '' }], Date.parse('2024-02-01T00:00:00Z'))
  } catch (e) {
    msg = (e as Error).message
  }
  assert.ok(commands(msg).length, msg)
  for (const c of commands(msg)) assert.is(inventoryOf(c), inv, msg)

  const obs = {
    pair,
    services: {},
    maxEpoch: 1,
    ms: 1,
    view: { active: 'node-a', epoch: 1, source: 'epoch', states: {}, unreachable: {} },
    ips: [{ fip: pair.floatingIps![0], holders: ['node-b'], unknown: [] }],
    problems: [{ kind: 'contradiction', detail: 'the records say node-a is active (epoch 1), but 198.51.100.20 is on node-b' }],
  } as unknown as Observation
  msg = problemsMessage(obs)
  assert.is(commands(msg).length, 2, msg)
  for (const c of commands(msg)) assert.is(inventoryOf(c), inv, msg)
  assert.match(msg, /failover\.ts --pair demo --to node-b --resolve --yes/)

  const forked = judgeTimelines(
    { 'node-a': { role: 'primary', timeline: 3 }, 'node-b': { role: 'standby', timeline: 2, receiver: { status: 'streaming', timeline: 2 } } } as any,
    'node-b',
  )
  assert.is(forked.ok, false)
  assert.is(commands(forked.detail).length, 1, forked.detail)
  for (const c of commands(forked.detail)) assert.is(inventoryOf(c), inv, forked.detail)

  const failed = formatResult({ operation: 'failover', ok: false, totalMs: 5, error: 'boom', warnings: [], plan: [], pair: 'demo' } as any)
  assert.is(commands(failed).length, 1, failed)
  for (const c of commands(failed)) assert.is(inventoryOf(c), inv, failed)
})

test('an installed copy prints its hints as `hapair NAME`, so they can be typed as they are', () => {
  const saved = process.argv[1]
  try {
    process.argv[1] = '/srv/team/node_modules/hapair/dist/playbooks/failover.js'
    assert.is(playbookCommand('status', ['--pair', 'demo']).split(' --inventory')[0], 'hapair status --pair demo')
    process.argv[1] = '/work/checkout/playbooks/failover.ts'
    assert.is(playbookCommand('status', ['--pair', 'demo']).split(' --inventory')[0], 'npx zx playbooks/status.ts --pair demo')
  } finally {
    process.argv[1] = saved
  }
})

test.run()
