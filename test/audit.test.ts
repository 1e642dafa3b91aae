// The audit log: entries appended as JSON lines; a log that cannot be written is reported to
// the caller (who warns), never thrown: the operation it records has already happened.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { audit, auditLogPath } from '../lib/audit.ts'
import { AUDIT_LOG, auditEntries } from './helpers/playbook.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-audit-test-'))
test.after(() => {
  chmodSync(path.join(dir, 'ro'), 0o755)
  rmSync(dir, { recursive: true, force: true })
})

test('entries are appended, one JSON line each, with who and when', () => {
  const file = path.join(dir, 'deep', 'er', 'audit.jsonl')
  assert.equal(audit({ operation: 'failover', pair: 'p', ok: true }, file), { file })
  assert.equal(audit({ operation: 'failback', pair: 'p', ok: false }, file), { file })
  const got = auditEntries(file)
  assert.equal(
    got.map((e) => [e.operation, e.ok]),
    [
      ['failover', true],
      ['failback', false],
    ],
  )
  assert.type(got[0].who, 'string')
  assert.ok(Date.parse(got[0].at) > 0)
})

const unwritable: [string, () => string, RegExp][] = [
  // A path below a regular file: fails for every user, root included.
  [
    'its directory is a file',
    () => {
      writeFileSync(path.join(dir, 'plain'), 'x')
      return path.join(dir, 'plain', 'audit.jsonl')
    },
    /^ENOTDIR|^EEXIST/,
  ],
  [
    'the log is a directory',
    () => {
      mkdirSync(path.join(dir, 'isdir', 'audit.jsonl'), { recursive: true })
      return path.join(dir, 'isdir', 'audit.jsonl')
    },
    /^EISDIR/,
  ],
  [
    'a read-only directory (or root, who may write anyway)',
    () => {
      mkdirSync(path.join(dir, 'ro'))
      chmodSync(path.join(dir, 'ro'), 0o555)
      return path.join(dir, 'ro', 'audit.jsonl')
    },
    /^EACCES/,
  ],
]
for (const [name, make, code] of unwritable) {
  test(`unwritable (${name}): returns the error instead of throwing`, () => {
    const file = make()
    const r = audit({ operation: 'failover', ok: true }, file)
    assert.is(r.file, file)
    if (name.startsWith('a read-only') && process.getuid?.() === 0) return // root writes through 0555
    assert.ok(r.error, 'an error is reported')
    assert.match(r.error!, code)
  })
}

test('the default path follows HAPAIR_AUDIT_LOG, else XDG_STATE_HOME', () => {
  assert.is(auditLogPath({ HAPAIR_AUDIT_LOG: '/x/a.jsonl' }), '/x/a.jsonl')
  assert.is(auditLogPath({ XDG_STATE_HOME: '/st' }), '/st/hapair/audit.jsonl')
})

test("tests run with their own audit log, not the user's", () => {
  assert.is(process.env.HAPAIR_AUDIT_LOG, AUDIT_LOG)
  assert.ok(AUDIT_LOG.startsWith(tmpdir()))
  audit({ operation: 'probe-of-helper' })
  assert.is(auditEntries().at(-1).operation, 'probe-of-helper')
})

test.run()
