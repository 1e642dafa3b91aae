// ssh.become on a real lab pair: the controller logs into every node as the non-root user
// hapair, and everything hapair does there runs as root through `sudo -n` and the one sudoers
// rule the lab wrote (the same rule docs/inventory.md gives). Status, a planned failover and a
// sync run through it; without the rule the error says sudo's own cause.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LAB_LOGIN_USER, startTestLab, type TestLab } from './helpers/lab.ts'
import { json, playbook } from './helpers/playbook.ts'
import { SshPool } from '../lib/ssh.ts'
import { RemoteError } from '../lib/errors.ts'

let lab: TestLab
let vip: string
test.before(async () => {
  lab = await startTestLab({ become: true })
  vip = lab.inv.data.pairs[0].floatingIps![0].address
})
test.after(async () => {
  await lab?.down()
})

const run = (name: string, ...args: string[]) => playbook(name, ['--inventory', lab.file, ...args])
const sh = async (node: string, script: string) => {
  const r = await lab.exec(node, ['sh', '-c', script])
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`)
  return r.stdout
}

test('the node is logged into as the non-root user, and sudo -n makes it root', async () => {
  const pool = new SshPool(lab.inv)
  try {
    const s = pool.session(lab.inv.data.pairs[0], 'node-a')
    assert.is(lab.inv.data.defaults!.ssh!.user, LAB_LOGIN_USER)
    const who = await s.run(['sh', '-c', 'echo "$(id -un) $SUDO_USER"'])
    assert.is(who.stdout.trim(), `root ${LAB_LOGIN_USER}`)
    // Nothing of sudo's on a command's own stderr: callers read it.
    assert.is(who.stderr, '')
    // The SFTP server runs as root too (sshd's own subsystem would be the login user): /root is root's alone.
    const sftp = await s.sftp()
    await new Promise<void>((res, rej) => sftp.writeFile('/root/sftp-as-root', 'x', (e) => (e ? rej(e) : res())))
    sftp.end()
    assert.is((await sh('node-a', 'stat -c %u /root/sftp-as-root && rm /root/sftp-as-root')).trim(), '0')
  } finally {
    pool.close()
  }
})

test('status through become: healthy, exit 0', async () => {
  const r = await run('status', '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
  const st = json(r).pairs[0]
  assert.is(st.degraded, false, JSON.stringify(st.degradedReasons))
})

test('sync through become (rsync and sftp items): files arrive as root wrote them, owners kept', async () => {
  // Owned by a user other than the login user: only a receiver running as root can keep that.
  await sh(
    'node-a',
    'mkdir -p /srv/app/become && echo one > /srv/app/become/root-file && echo two > /srv/app/become/daemon-file && chown 1:1 /srv/app/become/daemon-file && chmod 640 /srv/app/become/root-file',
  )
  await sh('node-a', 'echo cfg > /srv/config/become.conf && chown 1:1 /srv/config/become.conf')
  const r = await run('sync', '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.is((await sh('node-b', 'cat /srv/app/become/root-file /srv/app/become/daemon-file')).trim(), 'one\ntwo')
  assert.is((await sh('node-b', 'stat -c "%u:%g %a" /srv/app/become/root-file')).trim(), '0:0 640')
  assert.is((await sh('node-b', 'stat -c "%u:%g" /srv/app/become/daemon-file')).trim(), '1:1')
  assert.is((await sh('node-b', 'cat /srv/config/become.conf')).trim(), 'cfg')
  // The records went where root keeps them (the sftp channel runs as root too).
  assert.ok((await sh('node-a', 'stat -c %u /var/lib/hapair/demo/sync.json')).trim() === '0')
})

test('planned failover through become: the VIP moves to node-b', async () => {
  assert.equal(await lab.holders(vip), ['node-a'])
  const r = await run('failover', '--yes', '--json', '--to', 'node-b')
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.equal(await lab.holders(vip), ['node-b'])
  assert.equal(await lab.runningOn('db'), ['node-b'])
})

test('a node without an sftp-server: the sftp channel says so', async () => {
  // Only inside node-b's own mount namespace; gone with the lab.
  await sh('node-b', 'mount --bind /dev/null /usr/lib/openssh/sftp-server')
  try {
    const pool = new SshPool(lab.inv)
    try {
      const e = await pool
        .session(lab.inv.data.pairs[0], 'node-b')
        .sftp()
        .then(
          () => undefined,
          (x: unknown) => x,
        )
      assert.instance(e, RemoteError)
      assert.match((e as Error).message, /^node-b \(198\.51\.100\.\d+\): sftp: no sftp-server on this node \(looked for \/usr\/lib\/openssh\/sftp-server, /)
    } finally {
      pool.close()
    }
  } finally {
    await sh('node-b', 'umount /usr/lib/openssh/sftp-server')
  }
})

/** node-b's session fails before the command with sudo's cause, named with the node, its address and the command. */
async function assertSudoRefused() {
  const pool = new SshPool(lab.inv)
  try {
    const s = pool.session(lab.inv.data.pairs[0], 'node-b')
    const e = await s.run(['cat', '/var/lib/hapair/demo/epoch']).then(
      () => undefined,
      (x: unknown) => x,
    )
    assert.instance(e, RemoteError)
    const err = e as RemoteError
    assert.match(err.message, /^node-b \(198\.51\.100\.\d+\): /)
    assert.match(err.message, /sudo: a password is required/, err.message)
    assert.match(err.message, /not run: sudo -n \/bin\/sh -c 'cat \/var\/lib\/hapair\/demo\/epoch'/)
    assert.match(err.message, /hapair ALL=\(root\) NOPASSWD: \/bin\/sh/)
    assert.is(err.becomeFailed, true)
    assert.is(err.notAsked, false)
  } finally {
    pool.close()
  }
}

test('without the sudoers rule: sudo says why, naming node, host and command, not "unreachable"', async () => {
  await sh('node-b', 'mv /etc/sudoers.d/hapair /var/lib/lab/sudoers.off')
  try {
    await assertSudoRefused()
    const r = await run('status')
    assert.is.not(r.code, 0, r.stdout + r.stderr)
    const out = r.stdout + r.stderr
    assert.match(out, /node-b/)
    assert.match(out, /sudo: a password is required/)
    assert.not.match(out, /unreachable/i, out)
    assert.match(out, /node-b refuses sudo: /)
    assert.match(out, /node-b .* NO SUDO /)
  } finally {
    await sh('node-b', 'mv /var/lib/lab/sudoers.off /etc/sudoers.d/hapair')
  }
})

test('a rule that wants a password: the same clear refusal, never a prompt', async () => {
  await sh('node-b', 'cp /etc/sudoers.d/hapair /var/lib/lab/sudoers.keep && echo "hapair ALL=(root) /bin/sh" > /etc/sudoers.d/hapair')
  try {
    const t0 = Date.now()
    await assertSudoRefused()
    // -n: no prompt waited on (the command timeout is 20 s in the lab inventory).
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`)
  } finally {
    await sh('node-b', 'cp /var/lib/lab/sudoers.keep /etc/sudoers.d/hapair')
  }
  // With the rule back the node is usable again.
  const r = await run('status', '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
})

test.run()
