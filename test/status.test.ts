import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatStatus, type PairStatus } from '../lib/status.ts'

const base: PairStatus = {
  name: 'demo',
  active: 'node-b',
  activeSource: 'epoch',
  epoch: 3,
  degraded: false,
  degradedReasons: [],
  nodes: [
    { name: 'node-a', address: '198.51.100.11', role: 'primary', reachable: true, services: { web: false, db: false }, ms: 3 },
    { name: 'node-b', address: '198.51.100.12', role: 'secondary', reachable: true, services: { web: true, db: true }, ms: 3 },
  ],
  floatingIps: [{ address: '198.51.100.20', driver: 'linux', holders: ['node-b'], unknown: [] }],
  ms: 10,
}

test('healthy pair: active marked, services and holders shown', () => {
  const out = formatStatus([base])
  assert.match(out, /pair demo: active node-b \(epoch 3\)  healthy/)
  assert.match(out, /\* node-b\s+198\.51\.100\.12\s+secondary reachable\s+web:up db:up/)
  assert.match(out, /floating 198\.51\.100\.20 \(linux\) on node-b/)
})

test('degraded pair: reasons, unreachable node, unknown holders, no failover recorded', () => {
  const out = formatStatus([
    {
      ...base,
      active: 'node-a',
      activeSource: 'inventory',
      epoch: 0,
      degraded: true,
      degradedReasons: ['node-b unreachable'],
      nodes: [base.nodes[0], { ...base.nodes[1], reachable: false, services: { web: null, db: null } }],
      floatingIps: [{ address: '198.51.100.20', driver: 'linux', holders: [], unknown: ['node-b'] }],
      lastSync: '2026-11-22T10:00:00Z',
      lastVerify: { at: '2026-11-22T03:00:00Z', ok: false },
    },
  ])
  assert.match(out, /from inventory: no failover recorded\)  DEGRADED/)
  assert.match(out, /node-b .* UNREACHABLE web:\? db:\?/)
  assert.match(out, /on no node \(unknown: node-b\)/)
  assert.match(out, /! node-b unreachable/)
  assert.match(out, /oldest sync 2026-11-22T10:00:00Z/)
  assert.match(out, /last verify 2026-11-22T03:00:00Z FAILED/)
})

test.run()
