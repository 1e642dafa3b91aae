// bin/bundle.mjs's code cache is bytecode V8 runs as the bundle: it is read and written only
// where this user alone could have put it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const mod = '../bin/bundle.mjs'
const { readCache, trustedDir } = (await import(mod)) as { readCache(f: string): Buffer | undefined; trustedDir(d: string): boolean }

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hapair-bundle-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))

function cacheIn(dir: string, dirMode: number, fileMode = 0o600): string {
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, dirMode)
  const f = path.join(dir, 'status-x.v8cache')
  writeFileSync(f, 'bytecode')
  chmodSync(f, fileMode)
  return f
}

test('a cache of this user alone, in a directory of this user alone, is read', () => {
  const f = cacheIn(path.join(tmp, 'own'), 0o700)
  assert.is(readCache(f)?.toString(), 'bytecode')
  assert.ok(trustedDir(path.dirname(f)))
  assert.ok(trustedDir(path.join(tmp, 'not-yet')), 'a directory still to be made is made 0700 by the writer')
})

test('a directory others can write (HAPAIR_CACHE_DIR at a shared one): the cache there is neither read nor written', () => {
  const f = cacheIn(path.join(tmp, 'shared'), 0o777)
  assert.is(readCache(f), undefined)
  assert.not.ok(trustedDir(path.dirname(f)))
  chmodSync(path.dirname(f), 0o770)
  assert.is(readCache(f), undefined, 'group-writable')
})

test('a cache file others can write, or owned by another user: not read', () => {
  const dir = path.join(tmp, 'files')
  assert.is(readCache(cacheIn(dir, 0o700, 0o666)), undefined, 'world-writable file')
  assert.is(readCache(cacheIn(dir, 0o700, 0o620)), undefined, 'group-writable file')
  const f = cacheIn(dir, 0o700)
  if (process.getuid?.() === 0) {
    chownSync(f, 65534, 65534)
    assert.is(readCache(f), undefined, "another user's file")
    chownSync(f, 0, 0)
    chownSync(dir, 65534, 65534)
    assert.is(readCache(f), undefined, "another user's directory")
  }
})

test.run()
