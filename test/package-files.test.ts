// lib/package-files.ts: hapair's own files found from the module, not from the cwd.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { packageFile, packageRoot } from '../lib/package-files.ts'

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')

test('the root is the checkout, whatever the cwd', () => {
  const cwd = process.cwd()
  try {
    process.chdir('/')
    assert.is(packageRoot(), root)
    assert.is(packageFile('lib/lab/server.mjs'), `${root}/lib/lab/server.mjs`)
  } finally {
    process.chdir(cwd)
  }
  assert.ok(existsSync(packageFile('examples/systemd/hapair-guard.service')))
})

test.run()
