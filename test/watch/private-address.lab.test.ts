// The survivor's view of the active goes over the private network. Each lab node holds its
// privateAddress as a second address on the lab link, and node-a (the active) drops everything
// node-b sends to its public address, as a provisioned pair's firewall would. With the watcher
// cut off from node-a, node-b still sees node-a (ping and service checks on node-a's private
// address) and vetoes the takeover. The same lab without privateAddress has node-b look at the
// public address, see nothing, and confirm: which shows the drop is real.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import { nodeByName } from '../../lib/inventory/load.ts'
import { labHealAll, labPartition } from '../../lib/lab/index.ts'
import { startTestLab, type TestLab } from '../helpers/lab.ts'
import { startWatcher, type WatcherProcess } from '../helpers/watcher.ts'

let lab: TestLab
let publicOnly: string
let w: WatcherProcess | undefined
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test.before(async () => {
  try {
    lab = await startTestLab({
      mutate: (j) => {
        j.pairs[0].watch = { holdDownMs: 1000, maxTakeoversPerHour: 100 }
        // Slot-0 addresses: startTestLab moves them into the slot it claims.
        j.pairs[0].nodes[0].privateAddress = '198.51.100.25'
        j.pairs[0].nodes[1].privateAddress = '198.51.100.26'
      },
    })
    const json = JSON.parse(readFileSync(lab.file, 'utf8'))
    for (const n of json.pairs[0].nodes) delete n.privateAddress
    publicOnly = lab.file.replace(/\.json$/, '-public-only.json')
    writeFileSync(publicOnly, JSON.stringify(json, null, 2))
    const a = nodeByName(lab.inv, 'node-a').node
    const b = nodeByName(lab.inv, 'node-b').node
    // node-a's own namespace, which this test's lab created and its teardown deletes.
    const rules = `table inet hapair_private_test {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr { ${b.address}, ${b.privateAddress} } ip daddr ${a.address} counter drop
  }
}
`
    const r = await lab.exec('node-a', ['nft', '-f', '-'], { input: rules })
    assert.is(r.code, 0, r.stderr)
  } catch (e) {
    // uvu drops an error thrown in a before hook without a word.
    console.error('test setup failed:', e)
    throw e
  }
})
test.after(async () => {
  await w?.stop()
  await lab?.down()
})

async function cutWatcherFromActive(file: string) {
  w = startWatcher(file)
  await w.waitFor((e) => e.event === 'started', 20_000)
  await sleep(1500)
  const mark = w.events.length
  await labPartition(lab.inv, 'controller', 'node-a')
  return mark
}

test('watcher cut from the active: the survivor sees it on its private address and vetoes', async () => {
  const mark = await cutWatcherFromActive(lab.file)
  await sleep(3000)
  await labHealAll(lab.inv)
  await sleep(500)
  assert.is(w!.count('takeover-started', mark), 0, JSON.stringify(w!.events.slice(mark)))
  assert.is(w!.count('confirmed', mark), 0, JSON.stringify(w!.events.slice(mark)))
  assert.ok(w!.count('vetoed', mark) >= 1, JSON.stringify(w!.events.slice(mark)))
  assert.equal(await lab.holders(lab.inv.data.pairs[0].floatingIps![0].address), ['node-a'])
  await w!.stop()
  w = undefined
})

test('without privateAddress the survivor looks at the public address, sees nothing, and the watcher confirms', async () => {
  const mark = await cutWatcherFromActive(publicOnly)
  const e = await w!.waitFor((x) => x.event === 'confirmed' || x.event === 'vetoed', 10_000, mark)
  assert.is(e.event, 'confirmed', JSON.stringify(w!.events.slice(mark)))
  const counters = (await lab.exec('node-a', ['nft', 'list', 'chain', 'inet', 'hapair_private_test', 'input'])).stdout
  assert.not.match(counters, /counter packets 0 bytes 0 drop/, counters)
})

test.run()
