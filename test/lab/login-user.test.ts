// The lab's non-root login user (ssh.user with ssh.become): planned from the inventory, refused
// with a clear line when the lab cannot make it, and written into the node's own /etc files.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { InputError } from '../../lib/errors.ts'
import { parseInventory } from '../../lib/inventory/load.ts'
import { labPlan } from '../../lib/lab/plan.ts'
import { checkLoginUser, etcDir, writeLoginUser } from '../../lib/lab/login-user.ts'
import { sudoersRule } from '../../lib/become.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const demo = () => JSON.parse(readFileSync(path.join(root, 'inventory/lab.json'), 'utf8'))

test('a node logged into as a non-root user gets a login user in the plan; root gets none', () => {
  assert.is(labPlan(parseInventory(JSON.stringify(demo()), '/x/inv.json')).nodes[0].login, undefined)
  const j = demo()
  j.defaults.ssh = { ...j.defaults.ssh, user: 'hapair', become: 'sudo' }
  j.pairs[0].nodes[1].ssh = { user: 'ops', become: 'none' }
  const plan = labPlan(parseInventory(JSON.stringify(j), '/x/inv.json'))
  assert.equal(plan.nodes[0].login, { name: 'hapair', become: 'sudo' })
  assert.equal(plan.nodes[1].login, { name: 'ops', become: 'none' })
})

test('a user name the lab cannot create, or no sudo on the machine, is one clear line', () => {
  assert.throws(
    () => checkLoginUser('/x/inv.json', 'node-a', { name: 'Bad User', become: 'sudo' }),
    (e: Error) => e instanceof InputError && /\/x\/inv\.json: ssh\.user of node-a is "Bad User"/.test(e.message),
  )
  const empty = mkdtempSync(path.join(os.tmpdir(), 'hapair-nosudo-'))
  try {
    assert.throws(
      () => checkLoginUser('/x/inv.json', 'node-a', { name: 'hapair', become: 'sudo' }, [empty]),
      (e: Error) => e instanceof InputError && /ssh\.become sudo on node-a: the lab needs sudo on this machine \(apt-get install sudo\)/.test(e.message),
    )
    // Without become the lab needs no sudo.
    checkLoginUser('/x/inv.json', 'node-a', { name: 'hapair', become: 'none' }, [empty])
  } finally {
    rmSync(empty, { recursive: true, force: true })
  }
})

test("the node's own passwd, shadow and sudoers.d hold the user and exactly the one rule", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-login-'))
  try {
    const n = { ...labPlan(parseInventory(JSON.stringify(demo()), '/x/inv.json')).nodes[0], root: dir }
    mkdirSync(path.join(dir, 'lib'), { mode: 0o700 })
    const keys = path.join(dir, 'keys')
    writeFileSync(keys, 'ssh-ed25519 AAAA controller\n')
    writeLoginUser(n, { name: 'hapair', become: 'sudo' }, keys)
    const etc = etcDir(n)
    const passwd = readFileSync(path.join(etc, 'passwd'), 'utf8').split('\n')
    const line = passwd.find((l) => l.startsWith('hapair:'))!
    const uid = line.split(':')[2]
    assert.is(passwd.filter((l) => l.split(':')[2] === uid).length, 1, 'a uid of its own')
    assert.match(line, /:\/var\/lib\/lab\/home\/hapair:\/bin\/sh$/)
    assert.match(readFileSync(path.join(etc, 'shadow'), 'utf8'), /(^|\n)hapair:\*:/, 'not locked: sshd refuses a locked user even with a key')
    assert.match(readFileSync(path.join(etc, 'hosts'), 'utf8'), /127\.0\.1\.1 node-a\n$/)
    const rule = path.join(etc, 'sudoers.d', 'hapair')
    assert.is(readFileSync(rule, 'utf8'), sudoersRule('hapair'))
    assert.is(readFileSync(rule, 'utf8'), 'hapair ALL=(root) NOPASSWD: /bin/sh\n')
    assert.is(statSync(rule).mode & 0o777, 0o440)
    assert.is(readFileSync(path.join(dir, 'lib', 'lab', 'ssh', 'authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA controller\n')
    assert.is(String(statSync(path.join(dir, 'lib', 'lab', 'home', 'hapair')).uid), uid)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('become none: the user, but no sudoers rule', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-login-'))
  try {
    const n = { ...labPlan(parseInventory(JSON.stringify(demo()), '/x/inv.json')).nodes[0], root: dir }
    mkdirSync(path.join(dir, 'lib'), { mode: 0o700 })
    writeFileSync(path.join(dir, 'keys'), 'k\n')
    writeLoginUser(n, { name: 'ops', become: 'none' }, path.join(dir, 'keys'))
    assert.match(readFileSync(path.join(etcDir(n), 'passwd'), 'utf8'), /\nops:x:/)
    assert.throws(() => statSync(path.join(etcDir(n), 'sudoers.d', 'ops')))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
