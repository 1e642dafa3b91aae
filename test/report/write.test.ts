import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HapairError, InputError } from '../../lib/errors.ts'
import { checkReportTargets, emitReports } from '../../lib/report/index.ts'
import { readIfExists, writeFileAtomic } from '../../lib/report/write.ts'
import { sample } from './fixtures.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-report-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

test('writeFileAtomic replaces the file whole and leaves no temp file', () => {
  const f = path.join(dir, 'm.prom')
  writeFileSync(f, 'old\n')
  writeFileAtomic(f, 'new\n')
  assert.is(readFileSync(f, 'utf8'), 'new\n')
  assert.equal(readdirSync(dir), ['m.prom'])
})

test('writeFileAtomic into a missing directory fails with exit 1 (the checks have run by then) and leaves nothing', () => {
  assert.throws(
    () => writeFileAtomic(path.join(dir, 'nope', 'x.xml'), 'x'),
    (e: unknown) => e instanceof HapairError && e.exitCode === 1 && /no such directory/.test((e as Error).message),
  )
  assert.equal(readdirSync(dir), ['m.prom'])
})

test('checkReportTargets refuses unwritable destinations before anything runs', () => {
  assert.throws(
    () => checkReportTargets({ playbook: 'verify', junit: path.join(dir, 'missing', 'j.xml') }),
    (e: unknown) => e instanceof InputError,
  )
  assert.throws(() => checkReportTargets({ playbook: 'verify', metrics: '' }), /needs a file name/)
  checkReportTargets({ playbook: 'verify', junit: path.join(dir, 'j.xml'), metrics: path.join(dir, 'm.prom') })
})

test('emitReports writes JUnit and metrics, carries last success over, returns table or JSON', () => {
  const junit = path.join(dir, 'j.xml')
  const metrics = path.join(dir, 'm2.prom')
  const first = new Date('2024-05-01T00:00:00Z')
  emitReports(
    sample.map((r) => ({ ...r, ok: true })),
    { playbook: 'verify', metrics },
    first,
  )
  const out = emitReports(sample, { playbook: 'verify', junit, metrics, json: true }, new Date('2024-05-02T00:00:00Z'))
  assert.is(JSON.parse(out).ok, false)
  assert.match(readIfExists(junit), /<testsuites/)
  const prom = readIfExists(metrics)
  assert.match(prom, new RegExp(`hapair_check_last_success_timestamp_seconds\\{pair="demo",node="node-b",check="sync-drift"\\} ${first.getTime() / 1000}\\n`))
  assert.match(emitReports(sample, { playbook: 'verify' }), /^pair demo: 1 of 4 FAILED/)
})

test('readIfExists: empty for a missing file', () => {
  assert.is(readIfExists(path.join(dir, 'absent')), '')
})

test.run()
