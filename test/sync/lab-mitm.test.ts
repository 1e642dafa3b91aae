// A man in the middle on the node-to-node hop: inside the target's namespace a second sshd
// (its own host key, port 2222, accepting the source's key) gets the source's traffic to port
// 22 by DNAT. The hop must trust only the key the controller pinned: an extra line, a wildcard,
// or a hostile ~/.ssh/config on the source never let rsync reach the fake server.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { sshSettings } from '../../lib/inventory/load.ts'
import { fingerprint } from '../../lib/known-hosts.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync } from '../../lib/sync/index.ts'
import { hostKeyAlias } from '../../lib/sync/pin.ts'
import { sshCommand } from '../../lib/sync/rsync.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { loud, on, readOn, script } from './_lab.ts'

let lab: TestLab
let dir = '' // the fake server's temp dir, inside node-b
let fakePid = 0
let fakeKey = '' // "<type> <base64>"
let realKey = ''
const KH = '/var/lib/hapair/ssh/known_hosts'
const TABLE = 'hapair_mitm'
const pair = () => lab.inv.data.pairs[0]
const addr = (n: string) => pair().nodes.find((x) => x.name === n)!.address
const alias = () => hostKeyAlias(pair(), 'node-b')
const blobOf = (k: string) => Buffer.from(k.split(' ')[1], 'base64')

async function sync() {
  const pool = new SshPool(lab.inv)
  try {
    return await runSync(lab.inv, pair(), pool, { to: 'node-b', items: ['app'] })
  } finally {
    pool.close()
  }
}
const fakeLog = () => readOn(lab, 'node-b', `${dir}/log`)
const sessionsOnFake = async () => (await fakeLog()).split('\n').filter((l) => /Accepted publickey/.test(l))
const delivered = async (name: string) => (await lab.exec('node-b', ['test', '-e', `/srv/app/${name}`])).code === 0
const writePins = (text: string) => script(lab, 'node-a', 'printf "%s\\n" "$2" > "$1"', KH, text)

async function dnat(on_: boolean) {
  await lab.exec('node-b', ['nft', 'delete', 'table', 'ip', TABLE])
  if (!on_) return
  await on(
    lab,
    'node-b',
    ['nft', '-f', '-'],
    `table ip ${TABLE} {
  chain pre { type nat hook prerouting priority dstnat; policy accept; ip saddr ${addr('node-a')} tcp dport 22 redirect to :2222; }
}\n`,
  )
}

/** The hop's own ssh words, as rsync gets them in -e. */
const hopWords = () => {
  const n = pair().nodes.find((x) => x.name === 'node-b')!
  return sshCommand({
    keyFile: pair().sync!.nodeKeyFile,
    knownHostsFile: KH,
    ioTimeoutSec: 10,
    target: { user: 'root', address: n.address, port: sshSettings(lab.inv, pair(), n).port, hostKeyAlias: alias() },
  }).split(' ')
}

test.before(
  loud(async () => {
    lab = await startTestLab()
    const controllerPins = readFileSync(path.resolve(lab.inv.dir, lab.inv.data.defaults!.ssh!.knownHostsFile!), 'utf8')
    realKey = controllerPins
      .split('\n')
      .find((l) => l.startsWith(`${addr('node-b')} `))!
      .split(' ')
      .slice(1, 3)
      .join(' ')
    dir = (await on(lab, 'node-b', ['mktemp', '-d', '/tmp/hapair-mitm.XXXXXX'])).trim()
    const clientKey = (await readOn(lab, 'node-a', '/var/lib/hapair/ssh/id_ed25519.pub')).trim()
    await script(
      lab,
      'node-b',
      `set -e; cd "$1"; ssh-keygen -q -t ed25519 -N '' -C mitm -f host; printf '%s\\n' "$2" > authorized_keys
    printf '%s\\n' 'ListenAddress 0.0.0.0' 'Port 2222' "HostKey $1/host" "PidFile $1/pid" "AuthorizedKeysFile $1/authorized_keys" \\
      'StrictModes no' 'UsePAM no' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'PermitRootLogin prohibit-password' 'LogLevel VERBOSE' > config
    /usr/sbin/sshd -f "$1/config" -E "$1/log"
    for i in $(seq 100); do [ -s pid ] && break; sleep 0.05; done`,
      dir,
      clientKey,
    )
    fakePid = Number((await readOn(lab, 'node-b', `${dir}/pid`)).trim())
    assert.ok(fakePid > 0, 'the fake sshd runs')
    fakeKey = (await readOn(lab, 'node-b', `${dir}/host.pub`)).trim().split(' ').slice(0, 2).join(' ')
    await dnat(true)
    // The MITM is real: from node-a, node-b's port 22 now presents the fake key.
    const scanned = await on(lab, 'node-a', ['ssh-keyscan', '-t', 'ed25519', addr('node-b')])
    assert.ok(scanned.includes(fakeKey.split(' ')[1]), `node-a sees the fake server: ${scanned}`)
    // A hostile ssh config on the source: trust anything, and the fake key besides.
    await script(
      lab,
      'node-a',
      'mkdir -p /root/.ssh && printf "%s\\n" "Host *" "  StrictHostKeyChecking no" "  UserKnownHostsFile /dev/null" "  KnownHostsCommand /bin/echo %H $1" > /root/.ssh/config',
      fakeKey,
    )
    await script(lab, 'node-a', 'echo secret > /srv/app/mitm-marker')
  }),
)

test.after(async () => {
  if (lab) {
    await lab.exec('node-b', ['nft', 'delete', 'table', 'ip', TABLE]).catch(() => {})
    if (fakePid) {
      try {
        process.kill(fakePid, 'SIGTERM')
      } catch {
        /* gone */
      }
    }
    if (dir) await lab.exec('node-b', ['rm', '-rf', dir]).catch(() => {})
    await lab.exec('node-a', ['rm', '-f', '/root/.ssh/config']).catch(() => {})
  }
  await lab?.down()
})

test('control: the hostile ~/.ssh/config on its own would take ssh to the fake server', async () => {
  // The hop's words without -F /dev/null: the config's KnownHostsCommand vouches for the fake key.
  const words = hopWords().filter((w, i, a) => !(w === '-F' || a[i - 1] === '-F'))
  await writePins(`${alias()} ${realKey}`)
  const r = await lab.exec('node-a', [...words, `root@${addr('node-b')}`, 'true'])
  assert.is(r.code, 0, `the fake accepted the session: ${r.stderr}`)
  assert.is((await sessionsOnFake()).length, 1)
  await on(lab, 'node-b', ['sh', '-c', ': > "$1"', 'sh', `${dir}/log`])
})

test("ssh -G: the hop's words leave nothing of ~/.ssh/config in force", async () => {
  const r = await on(lab, 'node-a', ['ssh', '-G', ...hopWords().slice(1), `root@${addr('node-b')}`])
  const got = Object.fromEntries(
    r
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
  )
  assert.equal(
    [got.hostkeyalias, got.userknownhostsfile, got.globalknownhostsfile, got.stricthostkeychecking, got.checkhostip],
    [alias(), KH, '/dev/null', 'true', 'no'],
  )
  assert.is(got.knownhostscommand, undefined, 'no KnownHostsCommand')
})

const refusals: [string, () => string][] = [
  ['one extra attacker line for the address, the real line kept', () => `${alias()} ${realKey}\n${addr('node-b')} ${fakeKey}`],
  ['one extra attacker line for the alias, the real line kept', () => `${alias()} ${realKey}\n${alias()} ${fakeKey}`],
  ['a wildcard line for the address, the real line removed', () => `${addr('node-b').slice(0, -1)}? ${fakeKey}`],
]
for (const [what, file] of refusals)
  test(`refused, nothing delivered: ${what}`, async () => {
    await writePins(file())
    const rep = await sync()
    const r = rep.results[0]
    assert.equal([r.outcome, r.refusedForSafety, rep.exitCode], ['failed', true, 3], JSON.stringify(r))
    for (const s of ['node-a', 'node-b', fingerprint(blobOf(fakeKey)), fingerprint(blobOf(realKey))]) assert.ok(r.reason!.includes(s), `${s} in: ${r.reason}`)
    assert.equal(await sessionsOnFake(), [], 'the fake sshd saw no session')
    assert.not.ok(await delivered('mitm-marker'))
    assert.equal(rep.degraded?.pending, { 'node-b': ['app'] }, 'still owed to node-b')
    assert.is(await readOn(lab, 'node-a', KH), file() + '\n', 'the file is left as it was')
  })

test('a clean file with the MITM still there: ssh itself refuses the fake key despite the hostile config', async () => {
  await writePins(`${alias()} ${realKey}`)
  const rep = await sync()
  const r = rep.results[0]
  assert.equal([r.outcome, r.link, rep.exitCode], ['failed', false, 1], JSON.stringify(r))
  assert.match(r.reason!, 'host key verification failed')
  assert.equal(await sessionsOnFake(), [])
  assert.not.ok(await delivered('mitm-marker'))
})

test('a clean file and no DNAT: the sync goes through', async () => {
  await dnat(false)
  await writePins('')
  const rep = await sync()
  assert.is(rep.exitCode, 0, JSON.stringify(rep.results))
  assert.equal(rep.pinned, ['node-b'])
  assert.is(await readOn(lab, 'node-a', KH), `\n${alias()} ${realKey}\n`, "exactly the controller's key, under the alias")
  assert.ok(await delivered('mitm-marker'))
  assert.equal(await sessionsOnFake(), [])
})

test.run()
