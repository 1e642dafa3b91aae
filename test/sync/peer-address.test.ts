// The node-to-node hop's destination, as the source node is told to run it: the target's
// privateAddress when it has one, else its address. Recorded from fake source sessions, for
// both the one-shot sync (rsyncItem) and the follower's batches (shipBatch); the lab tests
// (private-address.lab.test.ts) show the same hop over real sshd and rsync.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadInventory, type LoadedInventory } from '../../lib/inventory/load.ts'
import type { NodeSession } from '../../lib/ssh.ts'
import type { Fence } from '../../lib/sync/lease.ts'
import { rsyncItem } from '../../lib/sync/run-rsync.ts'
import { shipBatch } from '../../lib/sync/follow/ship.ts'

function inventory(privateAddress?: string): LoadedInventory {
  const dir = mkdtempSync(path.join(tmpdir(), 'hapair-peer-'))
  const file = path.join(dir, 'inv.json')
  const b: Record<string, string> = { name: 'b', address: '192.0.2.11' }
  if (privateAddress) b.privateAddress = privateAddress
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      pairs: [
        {
          name: 'p',
          primary: 'a',
          nodes: [{ name: 'a', address: '192.0.2.10' }, b],
          sync: { nodeKnownHostsFile: '/etc/hapair/known_hosts', items: [{ name: 'app', path: '/srv/app', mirror: false }] },
        },
      ],
    }),
  )
  return loadInventory(file)
}

/** A source session that records what it is asked to run and answers as an rsync that sent nothing. */
function recordingSource(seen: string[]): NodeSession {
  return {
    name: 'a',
    run: async (cmd: string[] | { script: string }) => {
      seen.push(Array.isArray(cmd) ? cmd.join(' ') : cmd.script)
      return { code: 0, stdout: '', stderr: '' }
    },
  } as unknown as NodeSession
}

const fence = { wrap: (_node: string, argv: string[]) => argv.join(' '), check: async () => {} } as unknown as Fence

async function hops(inv: LoadedInventory): Promise<string[]> {
  const pair = inv.data.pairs[0]
  const [, target] = pair.nodes
  const item = pair.sync!.items[0]
  const seen: string[] = []
  const deletes = { limit: { count: 100, percent: 50 }, force: false }
  await rsyncItem({ inv, pair, src: recordingSource(seen), target, item, protect: [], dryRun: false, ioTimeoutSec: 30, deletes } as never)
  await shipBatch({
    inv,
    pair,
    src: recordingSource(seen),
    target,
    item,
    protect: [],
    entries: [{ rel: 'x', change: 'write' }],
    ioTimeoutSec: 30,
    fence,
    deletes: { ...deletes, held: 0 },
  } as never)
  return seen
}

test('sync and the follower send the hop to the private address, the alias pins the key', async () => {
  const seen = await hops(inventory('10.0.1.11'))
  assert.is(seen.length, 2, seen.join('\n'))
  for (const cmd of seen) {
    assert.ok(cmd.includes('root@10.0.1.11:/srv/app'), cmd)
    assert.not.ok(cmd.includes('192.0.2.11'), cmd)
    assert.ok(cmd.includes('HostKeyAlias=hapair-p@b'), cmd)
  }
})

test('without privateAddress the hop goes to address', async () => {
  for (const cmd of await hops(inventory())) assert.ok(cmd.includes('root@192.0.2.11:/srv/app'), cmd)
})

test.run()
