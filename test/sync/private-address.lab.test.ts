// A pair with private addresses: each lab node holds a second address on the lab link (the
// lab's stand-in for a cloud private network), and node-b refuses SSH from node-a on its public
// address, as a provisioned pair's firewall does. Sync's node-to-node rsync still succeeds,
// because it goes to node-b's privateAddress; the controller keeps reaching both nodes on
// `address`. The same lab without privateAddress fails at the refused hop, which shows the
// refusal is real.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import { loadInventory, nodeByName, type LoadedInventory } from '../../lib/inventory/load.ts'
import { SshPool } from '../../lib/ssh.ts'
import { runSync } from '../../lib/sync/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { loud, readOn, script } from './_lab.ts'

let lab: TestLab
let publicOnly: LoadedInventory

async function sync(inv: LoadedInventory) {
  const pool = new SshPool(inv)
  try {
    return await runSync(inv, inv.data.pairs[0], pool, { to: 'node-b', items: ['app'] })
  } finally {
    pool.close()
  }
}

const node = (inv: LoadedInventory, name: string) => nodeByName(inv, name).node

test.before(
  loud(async () => {
    // Slot-0 addresses: startTestLab moves them into the slot it claims, with the rest.
    lab = await startTestLab({
      mutate: (j) => {
        j.pairs[0].nodes[0].privateAddress = '198.51.100.25'
        j.pairs[0].nodes[1].privateAddress = '198.51.100.26'
      },
    })
    const json = JSON.parse(readFileSync(lab.file, 'utf8'))
    for (const n of json.pairs[0].nodes) delete n.privateAddress
    const f = lab.file.replace(/\.json$/, '-public-only.json')
    writeFileSync(f, JSON.stringify(json, null, 2))
    publicOnly = loadInventory(f)
    const a = node(lab.inv, 'node-a')
    const b = node(lab.inv, 'node-b')
    // node-b's own namespace, which this test's lab created and its teardown deletes.
    const rules = `table inet hapair_private_test {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr { ${a.address}, ${a.privateAddress} } ip daddr ${b.address} tcp dport 22 counter reject with tcp reset
  }
}
`
    const r = await lab.exec('node-b', ['nft', '-f', '-'], { input: rules })
    assert.is(r.code, 0, r.stderr)
    await script(lab, 'node-a', 'mkdir -p /srv/app && echo "over the private network" > /srv/app/private.txt')
  }),
)
test.after(async () => {
  await lab?.down()
})

test('each lab node holds its private address beside its own', async () => {
  for (const name of ['node-a', 'node-b']) {
    const n = node(lab.inv, name)
    const out = await script(lab, name, 'ip -4 -o addr show dev eth0')
    assert.ok(out.includes(` ${n.address}/`) && out.includes(` ${n.privateAddress}/`), out)
  }
})

test('sync reaches node-b on its private address while its public SSH refuses node-a; the controller still uses address', async () => {
  const r = await sync(lab.inv)
  assert.is(r.exitCode, 0, JSON.stringify(r.results))
  assert.is(await readOn(lab, 'node-b', '/srv/app/private.txt'), 'over the private network\n')
  // The refusal saw nothing: no connection from node-a went to node-b's public address.
  const counters = await script(lab, 'node-b', 'nft list chain inet hapair_private_test input')
  assert.match(counters, /counter packets 0 bytes 0 reject/, counters)
})

test('without privateAddress the same hop goes to the public address and is refused', async () => {
  await script(lab, 'node-a', 'echo "second version" > /srv/app/private.txt')
  const r = await sync(publicOnly)
  assert.is.not(r.exitCode, 0, JSON.stringify(r.results))
  assert.is(await readOn(lab, 'node-b', '/srv/app/private.txt'), 'over the private network\n', 'nothing arrived')
  const counters = await script(lab, 'node-b', 'nft list chain inet hapair_private_test input')
  assert.not.match(counters, /counter packets 0 bytes 0 reject/, counters)
})

test.run()
