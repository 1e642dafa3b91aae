// `hostkeys.ts pin` on a real lab pair: node-b is "rebuilt" (a new host key generated inside it,
// its sshd restarted), which breaks status and sync with a host-key mismatch; pin refuses a
// fingerprint that is not the node's and, given the one read inside the node (as an operator
// reads the console), repairs the controller's known_hosts and node-a's node-to-node file in one
// command. Also: bad input exits 2, a dry run writes nothing, a second pin changes nothing, and
// a peer that cannot be reached is reported with the files that were and were not updated.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { labPowerOff, labPowerOn } from '../../lib/lab/index.ts'
import { labHostKeyFile, rekeyNode } from '../../lib/lab/rekey.ts'
import { sshSettings } from '../../lib/inventory/load.ts'
import { hostKeyAlias } from '../../lib/sync/pin.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { auditEntries, json, playbook, type PlaybookRun } from '../helpers/playbook.ts'

let lab: TestLab
const NODE_KH = '/var/lib/hapair/ssh/known_hosts'
const pair = () => lab.inv.data.pairs[0]
const addr = (n: string) => pair().nodes.find((x) => x.name === n)!.address
const controllerKh = () => sshSettings(lab.inv, pair(), pair().nodes[0]).knownHostsFile!
const alias = () => hostKeyAlias(pair(), 'node-b')
const hostkeys = (...a: string[]) => playbook('hostkeys', [...a, '--inventory', lab.file])
const out = (r: PlaybookRun) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`

async function nodeFile(node: string): Promise<string> {
  const r = await lab.exec(node, ['cat', NODE_KH])
  assert.is(r.code, 0, r.stderr)
  return r.stdout
}
/** Every file pin may write, as bytes (and the controller's inode): "nothing written" is checked on all of them. */
async function snapshot() {
  return {
    controller: readFileSync(controllerKh(), 'utf8'),
    ino: statSync(controllerKh()).ino,
    nodeA: await nodeFile('node-a'),
    nodeB: await nodeFile('node-b'),
  }
}
/** What the operator reads on node-b's console. */
async function consoleFingerprint(hostKey: string): Promise<string> {
  const r = await lab.exec('node-b', ['ssh-keygen', '-lf', `${hostKey}.pub`])
  assert.is(r.code, 0, r.stderr)
  return r.stdout.split(' ')[1]
}
const keyOf = (pub: string) => pub.split(' ').slice(0, 2).join(' ')
let hostKey = ''

test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

test('bad input exits 2 and touches nothing: invalid inventory, unknown node, malformed or missing fingerprint', async () => {
  const before = await snapshot()
  const good = 'SHA256:' + 'A'.repeat(43)
  const bad = path.join(path.dirname(lab.file), 'bad.json')
  const inv = JSON.parse(readFileSync(lab.file, 'utf8'))
  inv.pairs[0].nodes[1].address = 'not an address'
  writeFileSync(bad, JSON.stringify(inv))
  let r = await playbook('hostkeys', ['pin', 'node-b', '--fingerprint', good, '--inventory', bad])
  assert.is(r.code, 2, out(r))
  assert.match(r.stderr, `${bad}: pairs/0/nodes/1/address`)
  r = await hostkeys('pin', 'node-z', '--fingerprint', good)
  assert.is(r.code, 2, out(r))
  assert.match(r.stderr, 'no node named "node-z"')
  r = await hostkeys('pin', 'node-b', '--fingerprint', 'SHA256:tooShort')
  assert.is(r.code, 2, out(r))
  assert.match(r.stderr, 'not a SHA256 digest')
  r = await hostkeys('pin', 'node-b')
  assert.is(r.code, 2, out(r))
  assert.match(r.stderr, 'needs --fingerprint')
  r = await hostkeys('pin', 'node-b', '--fingerprint', good, '--pair', 'nope')
  assert.is(r.code, 2, out(r))
  assert.equal(await snapshot(), before)
})

let oldFp = ''
let newFp = ''

test('node-b rebuilt: status and sync fail with a host-key mismatch', async () => {
  oldFp = await consoleFingerprint(labHostKeyFile(lab.inv, 'node-b'))
  const r0 = await rekeyNode(lab.inv, 'node-b')
  hostKey = r0.hostKey
  newFp = await consoleFingerprint(hostKey)
  assert.is.not(newFp, oldFp)
  const st = await playbook('status', ['--inventory', lab.file])
  assert.is(st.code, 1, out(st))
  assert.match(st.stdout, /node-b +\S+ +secondary UNREACHABLE/)
  assert.match(st.stdout, /node-b unreachable: .*HOST KEY MISMATCH/)
  const sy = await playbook('sync', ['--inventory', lab.file])
  assert.is.not(sy.code, 0, out(sy))
  assert.match(sy.stdout + sy.stderr, /HOST KEY MISMATCH/)
})

test('pin with a fingerprint that is not the presented key: exit 3, naming node, address, expected and presented; nothing written', async () => {
  const before = await snapshot()
  const r = await hostkeys('pin', 'node-b', '--fingerprint', oldFp, '--json')
  assert.is(r.code, 3, out(r))
  for (const s of ['node-b', addr('node-b'), oldFp, newFp, 'nothing was written']) assert.ok(r.stderr.includes(s), `${s} in: ${r.stderr}`)
  const j = json(r)
  assert.equal([j.refused, j.presented], [true, [{ type: 'ssh-ed25519', fingerprint: newFp }]])
  assert.equal(await snapshot(), before)
})

test('--dry-run with the right fingerprint: lists the files it would update, writes nothing', async () => {
  const before = await snapshot()
  const r = await hostkeys('pin', 'node-b', '--fingerprint', newFp, '--dry-run', '--json')
  assert.is(r.code, 0, out(r))
  assert.equal(
    json(r).files.map((f: any) => [f.where, f.state]),
    [
      ['controller', 'would update'],
      ['node-a', 'would update'],
    ],
  )
  assert.equal(await snapshot(), before)
})

test('pin with the fingerprint read on the console: exit 0, both files pin the new key, status and sync work again', async () => {
  const before = await snapshot()
  const audited = auditEntries().length
  const r = await hostkeys('pin', 'node-b', '--fingerprint', newFp)
  assert.is(r.code, 0, out(r))
  assert.match(r.stdout, `replaced: ${addr('node-b')} ssh-ed25519 ${oldFp}`)
  const pub = keyOf(readFileSync(`${hostKey}.pub`, 'utf8'))
  const oldLine = (text: string) => text.split('\n').find((l) => l.startsWith(`${addr('node-b')} `))!
  const ctlOld = oldLine(before.controller)
  // The controller: node-b's line replaced in place, node-a's untouched.
  assert.is(readFileSync(controllerKh(), 'utf8'), before.controller.replace(ctlOld, `${addr('node-b')} ${pub}`))
  // node-a: the legacy address line for node-b gives way to the alias the sync hop looks up; the rest stays.
  const nodeOld = oldLine(before.nodeA)
  assert.is(await nodeFile('node-a'), before.nodeA.replace(nodeOld, `${alias()} ${pub}`))
  assert.is(await nodeFile('node-b'), before.nodeB, "node-b's own file is not one of the files pin writes")
  const a = auditEntries().slice(audited)
  assert.equal(
    a.map((e) => [e.operation, e.node, e.fingerprint, e.ok]),
    [['hostkeys-pin', 'node-b', newFp, true]],
  )

  // node-b answers again; the pair stays degraded only for the sync the failed run still owes it.
  const st = await playbook('status', ['--inventory', lab.file, '--json'])
  assert.equal(
    json(st).pairs[0].nodes.map((n: any) => [n.name, n.reachable]),
    [
      ['node-a', true],
      ['node-b', true],
    ],
    out(st),
  )
  await lab.exec('node-a', ['sh', '-c', 'echo after-rebuild > /srv/app/after-rebuild'])
  const sy = await playbook('sync', ['--inventory', lab.file])
  assert.is(sy.code, 0, out(sy))
  assert.is((await lab.exec('node-b', ['cat', '/srv/app/after-rebuild'])).stdout, 'after-rebuild\n', 'delivered to the rebuilt node')
  const healthy = await playbook('status', ['--inventory', lab.file])
  assert.is(healthy.code, 0, out(healthy))
})

test('pinning the pinned key again: "already pinned", no file touched', async () => {
  const before = await snapshot()
  const r = await hostkeys('pin', 'node-b', '--fingerprint', newFp, '--json')
  assert.is(r.code, 0, out(r))
  const j = json(r)
  assert.equal([j.alreadyPinned, j.files.map((f: any) => f.state)], [true, ['already pinned', 'already pinned']])
  assert.equal(await snapshot(), before)
  assert.match((await hostkeys('pin', 'node-b', '--fingerprint', newFp)).stdout, 'already pinned; nothing changed')
})

test("show node-b: the new fingerprint, in the controller's file and in node-a's as the controller's key", async () => {
  const r = await hostkeys('show', 'node-b', '--json')
  assert.is(r.code, 0, out(r))
  const files = json(r).pairs[0].files
  assert.equal(
    files.map((f: any) => [f.where, f.pins.map((p: any) => [p.node, p.lines.map((l: any) => [l.fingerprint, l.field, l.controller])])]),
    [
      ['controller', [['node-b', [[newFp, addr('node-b'), undefined]]]]],
      ['node-a', [['node-b', [[newFp, alias(), true]]]]],
    ],
  )
  const t = await hostkeys('show')
  assert.is(t.code, 0, out(t))
  assert.match(t.stdout, `node-b: ssh-ed25519 ${newFp}`)
})

test('a peer that cannot be reached: the controller is updated, node-a is reported not updated, exit 1; run again once it is back', async () => {
  await rekeyNode(lab.inv, 'node-b')
  const fp = await consoleFingerprint(hostKey)
  await labPowerOff(lab.inv, 'node-a')
  try {
    const r = await hostkeys('pin', 'node-b', '--fingerprint', fp, '--json')
    assert.is(r.code, 1, out(r))
    const files = json(r).files
    assert.equal(
      files.map((f: any) => [f.where, f.state]),
      [
        ['controller', 'updated'],
        ['node-a', 'not updated'],
      ],
    )
    assert.match(files[1].reason, /node-a .*unreachable/)
    assert.match(readFileSync(controllerKh(), 'utf8'), keyOf(readFileSync(`${hostKey}.pub`, 'utf8')))
    const t = await hostkeys('pin', 'node-b', '--fingerprint', fp)
    assert.is(t.code, 1, out(t))
    assert.match(t.stdout, `PARTLY PINNED: pinned in controller ${controllerKh()}; NOT updated: node-a:${NODE_KH}`)
  } finally {
    await labPowerOn(lab.inv, 'node-a')
  }
  const r = await hostkeys('pin', 'node-b', '--fingerprint', fp, '--json')
  assert.is(r.code, 0, out(r))
  assert.equal(
    json(r).files.map((f: any) => [f.where, f.state]),
    [
      ['controller', 'already pinned'],
      ['node-a', 'updated'],
    ],
  )
  assert.match(await nodeFile('node-a'), `${alias()} ${keyOf(readFileSync(`${hostKey}.pub`, 'utf8'))}`)
})

test.run()
