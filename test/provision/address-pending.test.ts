// A provisioned pair's nodes have no address until import-stack writes one: the inventory
// validates (and the stacks build from it), every playbook that reaches nodes refuses it with
// exit 2 naming the JSON path, and a pair that is not provisioned still needs its addresses.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { exampleCopy } from '../stacks/fixture.ts'
import { playbook } from '../helpers/playbook.ts'
import { importStack } from '../../lib/provision/import.ts'
import { parseStackOutputs } from '../../lib/provision/outputs.ts'
import { addressProblems, requireAddresses } from '../../lib/inventory/load.ts'

test('the examples have no node addresses, and validate', async () => {
  for (const name of ['example-hcloud.json', 'example-digitalocean.json'] as const) {
    const fx = exampleCopy(name)
    assert.ok(
      fx.inv.data.pairs.every((p) => p.nodes.every((n) => (n as { address?: string }).address === undefined)),
      name,
    )
    const r = await playbook('validate', ['--inventory', fx.file])
    assert.is(r.code, 0, r.stderr)
    assert.match(r.stdout, /^ok: /)
  }
})

for (const [name, args] of [
  ['status', []],
  ['sync', ['--pair', 'web', '--dry-run']],
  ['hostkeys', ['show']],
  ['failover', ['--pair', 'web', '--dry-run']],
] as const) {
  test(`${name} before import-stack: exit 2, each missing address named by its JSON path, nothing asked`, async () => {
    const fx = exampleCopy('example-hcloud.json')
    const r = await playbook(name, ['--inventory', fx.file, ...args])
    assert.is(r.code, 2, r.stderr + r.stdout)
    for (const [pi, ni, node] of [
      [0, 0, 'web-1'],
      [0, 1, 'web-2'],
      [1, 0, 'db-1'],
      [1, 1, 'db-2'],
    ] as const) {
      assert.ok(
        r.stderr.includes(
          `pairs/${pi}/nodes/${ni}/address: not known yet for node ${node}: pair ${pi ? 'db' : 'web'} is provisioned by its stack; run pulumi up, then playbooks/import-stack.ts, which writes it`,
        ),
        r.stderr,
      )
    }
  })
}

test('once imported every address is there: requireAddresses passes', () => {
  const fx = exampleCopy('example-digitalocean.json')
  assert.is(addressProblems(fx.inv).length, 2)
  const out = {
    pairs: {
      api: {
        provider: 'digitalocean',
        nodes: { 'api-1': { id: 1, ipv4: '203.0.113.31' }, 'api-2': { id: 2, ipv4: '203.0.113.32' } },
        floatingIps: [{ name: 'vip', address: '198.51.100.31', family: 'ipv4' }],
      },
    },
  }
  const r = importStack(fx.inv, parseStackOutputs(JSON.stringify(out), 's'), 's')
  assert.equal(addressProblems(r.inventory), [])
  assert.is(requireAddresses(r.inventory), r.inventory)
  assert.ok(r.changes.includes('api/api-1: address (none) -> 203.0.113.31'), r.changes.join('\n'))
})

test('a pair without a provision block still needs every address (validate exit 2, located)', async () => {
  const fx = exampleCopy('example-hcloud.json')
  const file = fx.write((d) => {
    delete d.pairs[1].provision
    d.pairs[1].nodes[0].address = '203.0.113.21'
  })
  const r = await playbook('validate', ['--inventory', file])
  assert.is(r.code, 2, r.stdout)
  assert.ok(
    r.stderr.includes(
      'pairs/1/nodes/1: missing required property "address" (only the nodes of a pair with a "provision" block may leave it out: import-stack writes it)',
    ),
    r.stderr,
  )
  assert.not.ok(r.stderr.includes('pairs/1/nodes/0:'), 'the node with an address is fine')
  assert.not.ok(r.stderr.includes('pairs/0/'), 'the provisioned pair may wait for import-stack')
  assert.ok(readFileSync(file, 'utf8').length > 0)
})

test.run()
