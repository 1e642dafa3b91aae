// lib/invocation.ts, and lib/cli.ts scriptArgv as the installed bin starts playbooks.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { asInvoked, isCompiled, playbookInvocation } from '../lib/invocation.ts'
import { scriptArgv } from '../lib/cli.ts'

const INSTALLED = '/srv/team/node_modules/hapair/dist/playbooks/status.js'
const GLOBAL = '/usr/lib/node_modules/hapair/dist/playbooks/lab.js'
const CHECKOUT = '/work/hapair/playbooks/status.ts'

test('a compiled playbook is told from a checkout source wherever it is installed', () => {
  assert.ok(isCompiled(INSTALLED))
  assert.ok(isCompiled(GLOBAL))
  assert.ok(isCompiled('/work/hapair/dist/playbooks/pg-rejoin.js'))
  assert.not.ok(isCompiled(CHECKOUT))
  assert.not.ok(isCompiled('/srv/team/node_modules/zx/build/cli.js'))
  assert.not.ok(isCompiled(undefined))
})

test('commands are spelled the way this run was started', () => {
  assert.is(playbookInvocation('failover', INSTALLED), 'hapair failover')
  assert.is(playbookInvocation('failover', CHECKOUT), 'npx zx playbooks/failover.ts')
  const hint = 'usage: npx zx playbooks/watch.ts pause --pair P\n       npx zx playbooks/pg-rejoin.ts --pair web'
  assert.is(asInvoked(hint, INSTALLED), 'usage: hapair watch pause --pair P\n       hapair pg-rejoin --pair web')
  assert.is(asInvoked(hint, CHECKOUT), hint)
})

test('scriptArgv: the arguments after the playbook, however it was started', () => {
  const node = '/usr/bin/node'
  assert.equal(scriptArgv([node, '/w/node_modules/zx/build/cli.js', 'playbooks/status.ts', '--json']), ['--json'])
  assert.equal(scriptArgv([node, '/w/playbooks/status.ts', '--json']), ['--json'])
  assert.equal(scriptArgv([node, INSTALLED, '--pair', 'web']), ['--pair', 'web'])
  // A file name among the arguments is not the script: `hapair lab exec node-a -- node /srv/x.js`.
  assert.equal(scriptArgv([node, GLOBAL, 'exec', 'node-a', '--', 'node', '/srv/x.js']), ['exec', 'node-a', '--', 'node', '/srv/x.js'])
  assert.equal(scriptArgv([node, INSTALLED, '--inventory', '/srv/team/pairs.js']), ['--inventory', '/srv/team/pairs.js'])
})

test.run()
