// A "fresh" lab node whose host key was generated beforehand, as the stacks generate it, is
// pinned from the stack output alone: import-stack's known_hosts edit makes status reach it and
// the node-to-node file it reports (what cloud-init writes at first boot) makes sync's hop
// trust it. Nothing scans the node or reads a fingerprint off its console.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { rekeyNode, labHostKeyFile } from '../../lib/lab/rekey.ts'
import { sshSettings } from '../../lib/inventory/load.ts'
import { writeFileAtomic } from '../../lib/known-hosts-edit.ts'
import { importStack } from '../../lib/provision/import.ts'
import { parseStackOutputs } from '../../lib/provision/outputs.ts'
import { fingerprint } from '../../lib/known-hosts.ts'
import { ed25519Pair } from '../helpers/ed25519.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { playbook } from '../helpers/playbook.ts'

let lab: TestLab
test.before(async () => {
  lab = await startTestLab()
})
test.after(async () => {
  await lab?.down()
})

const status = () => playbook('status', ['--inventory', lab.file, '--json'])
const keyPart = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ')
const fp = (line: string) => fingerprint(Buffer.from(keyPart(line).split(' ')[1], 'base64'))

test('a node on a generated host key is pinned from the stack output, for the controller and for the sync hop', async () => {
  const pair = lab.inv.data.pairs[0]
  const [a, b] = pair.nodes
  assert.is((await status()).code, 0, 'the lab starts healthy')

  // node-b comes up on a key the "stack" made: nothing pins it yet, so both hops refuse it.
  const generated = ed25519Pair()
  await rekeyNode(lab.inv, b.name, { privateKey: generated.privateKeyOpenssh, publicKey: generated.publicKeyOpenssh })
  const refused = await status()
  assert.is.not(refused.code, 0, refused.stdout)
  assert.match(refused.stdout + refused.stderr, /HOST KEY|host key/i)

  // The stack's output: each node's public host key and its fingerprint (node-a's is the one it has).
  const aPub = readFileSync(`${labHostKeyFile(lab.inv, a.name)}.pub`, 'utf8')
  const key = (line: string) => ({ publicKey: keyPart(line), fingerprint: fp(line) })
  const output = {
    pairs: {
      [pair.name]: {
        provider: 'hcloud',
        nodes: { [a.name]: { id: 1, ipv4: a.address, hostKey: key(aPub) }, [b.name]: { id: 2, ipv4: b.address, hostKey: key(generated.publicKeyOpenssh) } },
        floatingIps: [],
      },
    },
  }
  const r = importStack(lab.inv, parseStackOutputs(JSON.stringify(output), 'stack.json'), 'stack.json', lab.file)
  assert.is(r.knownHosts.length, 1)
  const controller = sshSettings(lab.inv, pair, b).knownHostsFile!
  assert.is(r.knownHosts[0].file, controller)
  for (const k of r.knownHosts) if (k.changed) writeFileAtomic(k.file, k.text, k.before)
  assert.ok(
    readFileSync(controller, 'utf8')
      .split('\n')
      .includes(`${b.address} ${keyPart(generated.publicKeyOpenssh)}`),
  )
  assert.equal(r.knownHosts[0].pins.find((p) => p.node === b.name)?.fingerprint, generated.fingerprint)

  // What cloud-init writes at first boot on node-a: node-b under the hop's alias.
  const onA = r.nodeKnownHosts.find((n) => n.node === a.name)!
  assert.is(onA.file, pair.sync!.nodeKnownHostsFile)
  assert.ok(onA.text.includes(keyPart(generated.publicKeyOpenssh)))
  const w = await lab.exec(a.name, ['sh', '-c', 'cat > "$1"', 'sh', onA.file], { input: onA.text })
  assert.is(w.code, 0, w.stderr)

  const ok = await status()
  assert.is(ok.code, 0, ok.stdout + ok.stderr)
  const sync = await playbook('sync', ['--inventory', lab.file, '--pair', pair.name, '--json'])
  assert.is(sync.code, 0, sync.stdout + sync.stderr)
})

test.run()
