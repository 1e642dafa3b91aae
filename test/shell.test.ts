import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { sh, shJoin, shq } from '../lib/shell.ts'

const nasty = [
  'plain',
  'with space',
  "it's",
  '$(touch /tmp/pwned)',
  '`id`',
  'a;b',
  'a&&b',
  '-rf',
  '--',
  '',
  'tab\there',
  'new\nline',
  'ünïcödé',
  '"dq"',
  '\\back',
  '*',
  '~',
  '#hash',
  '!bang',
  'a|b',
  '>x',
]

// Every quoted word must come back unchanged from the shells a node may log in with.
for (const shell of ['sh', 'bash', 'dash']) {
  test(`${shell} reads every quoted word back unchanged`, () => {
    const out = execFileSync(shell, ['-c', `printf '%s\\0' ${nasty.map(shq).join(' ')}`]).toString('utf8')
    assert.equal(out.split('\0').slice(0, -1), nasty)
  })
}

test('safe words stay readable, leading dashes are quoted', () => {
  assert.is(shq('/srv/app'), '/srv/app')
  assert.is(shq('198.51.100.11/24'), '198.51.100.11/24')
  assert.is(shq('-rf'), "'-rf'")
  assert.is(shq(''), "''")
})

test('shJoin and sh template quote values, not the template', () => {
  assert.is(shJoin(['ip', 'addr', 'add', 'x y']), "ip addr add 'x y'")
  assert.is(sh`ls ${'a b'} ${['c', 'd e']}`, "ls 'a b' c 'd e'")
})

test.run()
