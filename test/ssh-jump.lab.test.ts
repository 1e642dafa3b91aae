// Nodes behind a bastion (ssh.jump) on a real lab: a third namespace with sshd is the bastion,
// and the bridge drops every frame between the controller and the nodes, so the only way in is
// through it. Status and sync work over the jump (rsync itself runs node to node, never through
// the bastion); a wrong pin on the bastion, the bastion down and a node down behind it each fail
// on their own terms, naming the host that failed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { startTestLab, type TestLab } from './helpers/lab.ts'
import { json, playbook, type PlaybookRun } from './helpers/playbook.ts'
import { labFault, labPartition } from '../lib/lab/index.ts'
import { tcpOpen } from '../lib/lab/ready.ts'
import { SshPool } from '../lib/ssh.ts'
import { RemoteError, hint } from '../lib/errors.ts'

let lab: TestLab
let bastion = ''
/** The lab's inventory with command checks only (next to it, so its relative key paths hold). */
let file = ''
test.before(async () => {
  lab = await startTestLab({
    mutate: (j) => {
      j.lab.bastions = [{ name: 'bastion', address: '198.51.100.4' }]
      j.defaults.ssh.jump = [{ name: 'bastion', address: '198.51.100.4' }]
    },
  })
  bastion = lab.inv.data.lab!.bastions![0].address
  // HTTP and TCP checks run from the controller, which this test cuts off from the nodes on
  // purpose; a command check runs over SSH, through the bastion. (The lab builds its services
  // from the HTTP and TCP checks, so only status reads this copy.)
  const j = JSON.parse(readFileSync(lab.file, 'utf8'))
  for (const s of j.pairs[0].services) s.checks = [{ protocol: 'command', command: s.status }]
  file = path.join(path.dirname(lab.file), 'jump.json')
  writeFileSync(file, JSON.stringify(j, null, 2))
  await labPartition(lab.inv, 'controller', 'node-a')
  await labPartition(lab.inv, 'controller', 'node-b')
})
test.after(async () => {
  await lab?.down()
})

const pair = () => lab.inv.data.pairs[0]
const addr = (node: string) => pair().nodes.find((n) => n.name === node)!.address
const out = (r: PlaybookRun) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`
const status = () => playbook('status', ['--inventory', file, '--json'])
const nodeOf = (r: PlaybookRun, name: string) => json(r).pairs[0].nodes.find((n: { name: string }) => n.name === name)

/** Each node's error from one pool (one run: the bastion's connection shared), with how long it took. */
async function failures(): Promise<Record<string, RemoteError>> {
  const pool = new SshPool(lab.inv)
  try {
    const got = await Promise.all(
      ['node-a', 'node-b'].map((n) =>
        pool
          .session(pair(), n)
          .run(['true'])
          .then(
            () => undefined,
            (e) => e,
          ),
      ),
    )
    return Object.fromEntries(got.map((e, i) => [['node-a', 'node-b'][i], e]).filter(([, e]) => e)) as Record<string, RemoteError>
  } finally {
    pool.close()
  }
}

test('nodes cut off from the controller: status over the bastion sees both, one bastion connection for both', async () => {
  assert.is(await tcpOpen(addr('node-a'), 22, 500), false, 'the controller does not reach node-a directly')
  assert.is(await tcpOpen(bastion, 22, 500), true, 'it reaches the bastion')
  const r = await status()
  assert.is(r.code, 0, out(r))
  const p = json(r).pairs[0]
  assert.equal(p.degradedReasons, [])
  assert.equal(
    p.nodes.map((n: { reachable: boolean }) => n.reachable),
    [true, true],
  )
  assert.is(p.active, 'node-a')

  const pool = new SshPool(lab.inv)
  try {
    const names = await Promise.all(['node-a', 'node-b'].map(async (n) => (await pool.session(pair(), n).run(['hostname'])).stdout.trim()))
    assert.equal(names, ['node-a', 'node-b'], "each node's own sshd answered, over the bastion")
    const [j] = pool.bastions()
    assert.is(pool.bastions().length, 1)
    assert.is(j.connects, 1, 'one connection to the bastion, shared by both nodes')
  } finally {
    pool.close()
  }
})

test('sync behind the bastion: the controller drives it over the jump, rsync runs node to node', async () => {
  await lab.exec('node-a', ['sh', '-c', 'echo behind-the-bastion >/srv/app/data/jump.txt'])
  const r = await playbook('sync', ['--inventory', file])
  assert.is(r.code, 0, out(r))
  const got = await lab.exec('node-b', ['cat', '/srv/app/data/jump.txt'])
  assert.is(got.stdout, 'behind-the-bastion\n', 'the rsync item arrived on node-b')
})

test('a node powered off behind the bastion: unreachable naming that node, not the bastion', async () => {
  await labFault(lab.inv, 'kill', 'node-b')
  try {
    const r = await status()
    assert.is(r.code, 1, out(r))
    assert.is(nodeOf(r, 'node-a').reachable, true)
    const b = nodeOf(r, 'node-b')
    assert.is(b.reachable, false)
    assert.match(b.error, `node-b (${addr('node-b')}): unreachable on port 22 through bastion bastion (${bastion})`)
    const e = (await failures())['node-b']
    assert.instance(e, RemoteError)
    assert.ok(e.unreachable)
    assert.is(e.hop, undefined, 'the bastion did its part')
    assert.match(hint(e), "check the node's power")
  } finally {
    await labFault(lab.inv, 'start', 'node-b')
  }
  assert.is((await status()).code, 0, 'node-b back: healthy again')
})

test("the bastion's host key pinned wrong: refused at the bastion, naming it, flagged as a host-key mismatch", async () => {
  const known = path.resolve(lab.inv.dir, lab.inv.data.defaults!.ssh!.knownHostsFile!)
  const pins = readFileSync(known, 'utf8')
  // node-a's key where the bastion's should be: a bastion that is not the one pinned.
  const nodeKey = pins
    .split('\n')
    .find((l) => l.startsWith(`${addr('node-a')} `))!
    .split(' ')
    .slice(1)
    .join(' ')
  writeFileSync(
    known,
    pins
      .split('\n')
      .map((l) => (l.startsWith(`${bastion} `) ? `${bastion} ${nodeKey}` : l))
      .join('\n'),
  )
  try {
    const r = await status()
    assert.is(r.code, 1, out(r))
    for (const n of ['node-a', 'node-b']) {
      assert.is(nodeOf(r, n).reachable, false)
      assert.match(nodeOf(r, n).error, `via bastion bastion (${bastion}): HOST KEY MISMATCH`)
    }
    assert.match(json(r).pairs[0].degradedReasons.join('\n'), "verify the bastion bastion's identity out of band")
    const e = (await failures())['node-a']
    assert.ok(e.hostKeyMismatch, 'flagged like a node whose key does not match')
    assert.is(e.hop, 'bastion')
    assert.not.ok(e.unreachable)
    // As with a node's own wrong pin: the first step that needs the node stops, nothing moved.
    const f = await playbook('failover', ['--inventory', file, '--to', 'node-b', '--yes'])
    assert.is(f.code, 1, out(f))
    assert.match(f.stdout + f.stderr, new RegExp(`FAIL lock .*via bastion bastion \\(${bastion.replace(/\./g, '\\.')}\\): HOST KEY MISMATCH`))
  } finally {
    writeFileSync(known, pins)
  }
  const after = await status()
  assert.is(after.code, 0, 'the right pin back: healthy again')
  assert.is(json(after).pairs[0].active, 'node-a', 'the refused failover moved nothing')
})

test('the bastion down: every node behind it unreachable, naming the bastion, one timeout for both', async () => {
  await labFault(lab.inv, 'kill', 'bastion')
  const r = await status()
  assert.is(r.code, 1, out(r))
  for (const n of ['node-a', 'node-b']) {
    assert.is(nodeOf(r, n).reachable, false)
    assert.match(nodeOf(r, n).error, `${n} (${addr(n)}): via bastion bastion (${bastion}): unreachable on port 22`)
  }
  assert.match(json(r).pairs[0].degradedReasons.join('\n'), "check the bastion bastion's power, network and sshd")
  const started = Date.now()
  const errs = await failures()
  const took = Date.now() - started
  for (const n of ['node-a', 'node-b']) {
    assert.ok(errs[n].unreachable, n)
    assert.is(errs[n].hop, 'bastion', n)
  }
  const limit = lab.inv.data.defaults!.ssh!.connectTimeoutMs!
  assert.ok(took < limit + 1500, `both nodes failed in ${took} ms: one attempt at the bastion (connect timeout ${limit} ms), not one per node`)
})

test.run()
