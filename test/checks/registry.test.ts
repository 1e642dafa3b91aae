import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CHECKS, checkNames, selectChecks, validateChecks } from '../../lib/checks/registry.ts'
import { InputError } from '../../lib/errors.ts'
import type { Pair } from '../../lib/inventory/schema.ts'

test('every check of the issue is registered, once', () => {
  assert.equal([...checkNames()].sort(), [
    'archiving',
    'backups',
    'clock-skew',
    'error-log',
    'floating-ip',
    'identical-files',
    'latency',
    'links',
    'paths',
    'pg-lag',
    'pg-primary',
    'pg-rewind',
    'pg-slots',
    'pg-timeline',
    'records',
    'singletons',
    'sync-drift',
  ])
  for (const c of CHECKS) assert.ok(c.summary.length > 20, c.name)
})

test('selectChecks: all by default, named ones in registry order, commas allowed', () => {
  assert.is(selectChecks([]).length, CHECKS.length)
  assert.equal(
    selectChecks(['paths,links', 'backups']).map((c) => c.name),
    ['links', 'paths', 'backups'],
  )
})

test('selectChecks: an unknown name is bad input and lists the known ones', () => {
  assert.throws(
    () => selectChecks(['links', 'lnks']),
    (e: unknown) => e instanceof InputError && e.exitCode === 2 && /unknown check: lnks \(checks: links, /.test(e.message),
  )
})

test('validateChecks: a bad error-log pattern and a port-less tcp check are reported before anything runs', () => {
  const pair = {
    name: 'p',
    errorLogs: [{ name: 'app', path: '/x', patterns: ['ERROR', '(unclosed'] }],
    services: [{ name: 'db', start: 's', stop: 's', status: 's', checks: [{ protocol: 'tcp' }] }],
  } as unknown as Pair
  assert.throws(
    () => validateChecks(selectChecks([]), [pair]),
    (e: unknown) =>
      e instanceof InputError &&
      e.problems.length === 2 &&
      /pattern "\(unclosed" is not a valid regular expression/.test(e.problems.join()) &&
      /checks\[0\] \(tcp\) needs a port/.test(e.problems.join()),
  )
  validateChecks(selectChecks(['links']), [pair]) // only the selected checks' declarations matter
})

test.run()
