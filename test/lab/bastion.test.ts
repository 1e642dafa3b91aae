// lab.bastions, the pure part: a bastion is planned like a node (its own namespace, cable and
// sshd on port 22) after the nodes, without pair or services; faults and down find it by name.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseInventory } from '../../lib/inventory/load.ts'
import { labPlan, nodePort, relocateInventory } from '../../lib/lab/plan.ts'
import { faultRuleset, hostNames, hostPort, withPartition, noNetFaults } from '../../lib/lab/nft.ts'
import { stateFromPlan } from '../../lib/lab/state.ts'
import { readFileSync } from 'node:fs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const withBastion = () => {
  const j = JSON.parse(readFileSync(path.join(root, 'inventory/lab.json'), 'utf8'))
  j.lab.bastions = [{ name: 'bastion', address: '198.51.100.4' }]
  j.defaults.ssh.jump = [{ name: 'bastion', address: '198.51.100.4' }]
  return j
}
const plan = (j = withBastion()) => labPlan(parseInventory(JSON.stringify(j), path.join(root, 'inventory/lab.json')))

test('planned after the nodes: its own namespace, the next cable, port 22, no pair and no services', () => {
  const p = plan()
  assert.equal(
    p.nodes.map((n) => n.port),
    [nodePort('demo', 0), nodePort('demo', 1)],
    'the nodes keep their cables',
  )
  assert.equal(
    p.bastions.map((b) => [b.name, b.ns, b.port, b.address, b.sshPort, b.pair, b.services]),
    [['bastion', 'hp-demo-bastion', nodePort('demo', 2), '198.51.100.4', 22, '', []]],
  )
  assert.is(p.bastions[0].root, path.join(p.stateDir, 'bastions', 'bastion'))
  assert.ok(stateFromPlan(p, '/x/lab.json', false).namespaces.includes('hp-demo-bastion'), 'state.json lists it, so down removes it')
})

test('faults name it like a node: partition and loss by name', () => {
  const p = plan()
  assert.equal(hostNames(p), ['node-a', 'node-b', 'bastion', 'controller'])
  assert.is(hostPort(p, 'bastion'), nodePort('demo', 2))
  const rules = faultRuleset(p, withPartition(noNetFaults(), 'controller', 'node-a', false))
  assert.match(rules, `iifname "${p.bridgePeer}" oifname "${nodePort('demo', 0)}"`)
  assert.not.match(rules, nodePort('demo', 2), 'the bastion is not cut')
})

test('relocated into a test slot with everything else', () => {
  const j = relocateInventory(withBastion(), 3)
  assert.is(j.lab.bastions[0].address, '198.51.100.100')
  assert.is(j.defaults.ssh.jump[0].address, '198.51.100.100')
})

test('no bastions: the plan is as before', () => {
  const j = withBastion()
  delete j.lab.bastions
  assert.equal(plan(j).bastions, [])
})

test.run()
