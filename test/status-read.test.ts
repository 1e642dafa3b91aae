// status's combined reads must answer exactly what the readers they replace answer: the records,
// lock and in-flight list of lib/status-read.ts against activeView, readLockDir and readInflight,
// and the services' one command (lib/services.ts) against each status command's own exit code.
// All run against real files through a real sh, one state directory per "node".
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Pair } from '../lib/inventory/schema.ts'
import type { NodeSession } from '../lib/ssh.ts'
import { RemoteError } from '../lib/errors.ts'
import { activeView } from '../lib/active.ts'
import { readLockDir } from '../lib/lock.ts'
import { readInflight } from '../lib/sync/follow/inflight.ts'
import { parseStatusRead, readStatus, statusReadScript } from '../lib/status-read.ts'
import { listingPlan } from '../lib/freshness.ts'
import { parseServicesStatus, runningServices, servicesStatusScript } from '../lib/services.ts'
import { STATE, localNodes, pair } from './helpers/local-nodes.ts'

let root: string
const { dirOf, localSession, localPool, put } = localNodes(() => root)
const record = (epoch: number, active: string) => JSON.stringify({ epoch, active, since: `2030-01-01T11:0${epoch}:00Z`, by: 'test' })
const owner = JSON.stringify({
  owner: 'ops@gone pid 1',
  host: 'gone',
  pid: 1,
  operation: 'failover',
  at: '2030-01-01T11:58:00Z',
  expires: '2030-01-01T11:59:00Z',
})

test.before.each(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'hapair-status-read-'))
})
test.after.each(() => {
  rmSync(root, { recursive: true, force: true })
})

async function both(o: { unreachable?: string[] } = {}) {
  const pool = localPool(o)
  const view = await activeView(pool, pair)
  const old: Record<string, { lock: unknown; inflight: unknown }> = {}
  for (const n of pair.nodes) {
    if (o.unreachable?.includes(n.name)) continue
    old[n.name] = { lock: await readLockDir(pool.session(pair, n), pair), inflight: await readInflight(pool, pair, n.name) }
  }
  const runs: string[] = []
  const r = await readStatus(localPool({ ...o, runs }), pair)
  return { view, old, r, runs }
}

test('the same records, lock and in-flight list as their own readers, in one command per node', async () => {
  put('node-a', 'active.json', record(3, 'node-a'))
  put('node-b', 'active.json', record(4, 'node-b'))
  put('node-a', 'sync.json', '{"items":{}}')
  put('node-b', 'lock/owner', owner)
  put('node-b', 'lock/journal', '{"operation":"failover"}')
  put('node-a', 'inflight.json', '{not json')
  const { view, old, r, runs } = await both()
  assert.equal(runs.sort(), ['node-a', 'node-b'], 'one command per node')
  for (const k of ['active', 'epoch', 'source', 'record', 'unreachable'] as const) assert.equal(r.view[k], view[k], k)
  assert.equal(r.view.states, view.states, 'every record, sync.json too')
  assert.is(r.view.active, 'node-b')
  for (const n of ['node-a', 'node-b']) {
    assert.equal(r.locks[n], old[n].lock, `${n} lock`)
    assert.equal(r.inflight[n], old[n].inflight, `${n} in-flight list`)
  }
  assert.equal(r.locks['node-b'], { owner, journal: '{"operation":"failover"}' })
  assert.match((r.inflight['node-a'] as { bad: string }).bad, /^node-a: \/var\/lib\/hapair\/demo\/inflight.json is not valid JSON/)
})

test('nothing on the nodes: no lock, no list, the inventory primary', async () => {
  const { view, r } = await both()
  assert.equal(r.locks, { 'node-a': undefined, 'node-b': undefined })
  assert.equal(r.inflight, { 'node-a': undefined, 'node-b': undefined })
  assert.is(r.view.active, view.active)
  assert.is(r.view.source, 'inventory')
})

test('an unreachable node: counted as such, nothing of it read', async () => {
  put('node-a', 'active.json', record(7, 'node-b'))
  const { view, r } = await both({ unreachable: ['node-b'] })
  assert.equal(r.view.unreachable, view.unreachable)
  assert.ok(r.view.errors?.['node-b'] instanceof RemoteError)
  assert.ok(!('node-b' in r.locks) && !('node-b' in r.inflight))
  assert.is(r.view.active, 'node-b')
})

test('sample output: each section to its parser; a missing or extra section is no answer', () => {
  const script = statusReadScript(pair)
  assert.ok(script.indexOf('hapair-state') < script.indexOf('hapair-lock') && script.indexOf('hapair-lock') < script.indexOf('hapair-inflight'))
  const got = parseStatusRead(
    `\x1dhapair-state\x1dactive.json\x1e${record(2, 'node-b')}\x1f\x1dhapair-lock\x1dlock\x1eO\x1eJ\x1dhapair-inflight\x1d`,
    pair,
    'node-a',
  )
  assert.is(got?.state.active?.epoch, 2)
  assert.equal(got?.lock, { owner: 'O', journal: 'J' })
  assert.is(got?.inflight, undefined)
  for (const bad of [
    '',
    '\x1dhapair-state\x1d\x1dhapair-lock\x1d',
    '\x1dhapair-lock\x1d\x1dhapair-state\x1d\x1dhapair-inflight\x1d',
    '\x1dhapair-state\x1d\x1dhapair-lock\x1d\x1dhapair-inflight\x1d\x1dx\x1d',
  ])
    assert.is(parseStatusRead(bad, pair, 'node-a'), undefined, JSON.stringify(bad))
})

test("the listing rides last, whole, even when a file's name holds the section marker", () => {
  const sync = {
    ...pair,
    sync: { items: [{ name: 'app', path: '/srv/app' }] },
  } as unknown as Pair
  const src = mkdtempSync(path.join(os.tmpdir(), 'hapair-status-listing-'))
  try {
    writeFileSync(path.join(src, 'plain'), 'x')
    writeFileSync(path.join(src, 'odd\x1dhapair-listing\x1dname'), 'y')
    const script = statusReadScript(sync, listingPlan(sync)!.script.split('/srv/app').join(src))
    const out = execFileSync('sh', ['-c', script.split(STATE).join(dirOf('node-a'))], { encoding: 'utf8' })
    const got = parseStatusRead(out, sync, 'node-a', 1)
    assert.ok(got && got.listing && 'listings' in got.listing, JSON.stringify(got?.listing))
    const names = [...(got!.listing as { listings: { tree: Map<string, unknown> }[] }).listings[0].tree.keys()]
    assert.ok(
      names.some((n) => n.includes('odd\x1dhapair-listing\x1dname')),
      JSON.stringify(names),
    )
    assert.ok(
      names.some((n) => n.includes('plain')),
      JSON.stringify(names),
    )
    assert.is(got!.state.active, undefined)
    // No listing header at all, or a listing cut short: no answer / an error, never "fresh".
    assert.is(parseStatusRead(out.slice(0, out.indexOf('\x1dhapair-listing')), sync, 'node-a', 1), undefined)
    const cut = parseStatusRead(out.slice(0, out.indexOf('\x1dhapair-listing') + '\x1dhapair-listing\x1d'.length), sync, 'node-a', 1)
    assert.match(String((cut?.listing as { error: Error }).error?.message), /listing cut short on node-a/)
  } finally {
    rmSync(src, { recursive: true, force: true })
  }
})

const withServices = (status: Record<string, string>) =>
  ({ ...pair, services: Object.entries(status).map(([name, s]) => ({ name, start: 'true', stop: 'true', status: s })) }) as unknown as Pair

test("services: one command, each service's own exit code, whatever the others do", async () => {
  const p = withServices({
    up: 'true',
    down: 'exit 3',
    quoted: `[ "it's" = "it's" ]`,
    // Each runs with stdin closed, as on its own channel, and its output is not the answer.
    reads: 'read x && [ -n "$x" ]',
    noisy: 'echo "1 1"; echo "0 1" >&2; true',
    // Broken shell fails that service alone, not the command.
    broken: 'if then (',
    slow: 'sleep 0.3; true',
  })
  const runs: string[] = []
  const one = localSession(pair.nodes[0], { runs })
  const got = await runningServices(one, p)
  assert.equal(runs, ['node-a'], 'one command for all seven')
  assert.equal(got, { up: true, down: false, quoted: true, reads: false, noisy: true, broken: false, slow: true })
  for (const svc of (p.services ?? []).map((s) => s.status)) {
    const own = spawnSync('sh', ['-c', svc], { input: '', encoding: 'utf8' }).status === 0
    assert.is(got[(p.services ?? []).find((s) => s.status === svc)!.name], own, svc)
  }
})

test('services: side by side, so the bound is the slowest one, not their sum', () => {
  const p = withServices({ a: 'sleep 0.4', b: 'sleep 0.4', c: 'sleep 0.4' })
  const t = Date.now()
  const out = execFileSync('sh', ['-c', servicesStatusScript(p)], { encoding: 'utf8' })
  assert.ok(Date.now() - t < 1100, `${Date.now() - t} ms`)
  assert.equal(parseServicesStatus(out, p), { a: true, b: true, c: true })
})

test('services: a missing line is no answer (RemoteError), never "not running"', async () => {
  const p = withServices({ a: 'true', b: 'true' })
  assert.is(parseServicesStatus('0 0\n', p), undefined)
  assert.equal(parseServicesStatus('1 3\n0 0\n', p), { a: true, b: false })
  const cut = { name: 'node-a', host: 'h', run: async () => ({ code: null, stdout: '0 0\n' }) } as unknown as NodeSession
  try {
    await runningServices(cut, p)
    assert.unreachable('no error')
  } catch (e) {
    assert.ok(e instanceof RemoteError, String(e))
    assert.match((e as Error).message, /no complete answer/)
  }
  assert.equal(await runningServices(cut, pair), {}, 'no services: nothing asked')
})

test.run()
