// End to end: the failover playbook on a real lab pair, with the floating IP and the fencing
// done by the hcloud drivers against the loopback fake Hetzner API. The API's assignment and
// power state are the fake's; the kernels, sshd, services and the "power off" are the lab's
// (the fake's power-off action kills the lab node), so what is asserted is what a user sees.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { httpBody, startTestLab, type TestLab } from '../helpers/lab.ts'
import { json, playbook, type PlaybookRun } from '../helpers/playbook.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'
import { ipDriver } from '../../lib/drivers/index.ts'
import type { CloudIpDriver } from '../../lib/drivers/ip-cloud.ts'
import { labFault } from '../../lib/lab/index.ts'
import { SshPool } from '../../lib/ssh.ts'

const TOKEN = 'hcloud-lab-e2e-token-4c8e1f0a9b7d3e25'
const SERVER: Record<string, number> = { 'node-a': 101, 'node-b': 102 }
let lab: TestLab
let api: FakeHcloud
let vip: string
let savedToken: string | undefined
const outputs: string[] = []

test.before(async () => {
  api = await new FakeHcloud(TOKEN).addServer(101, 'node-a').addServer(102, 'node-b').start()
  api.actionPolls = 1
  savedToken = process.env.HCLOUD_TOKEN
  process.env.HCLOUD_TOKEN = TOKEN // the playbooks run as child processes and inherit it
  lab = await startTestLab({
    mutate: (j) => {
      const p = j.pairs[0]
      p.nodes.forEach((n: any) => {
        n.hcloud = { serverId: SERVER[n.name] }
      })
      p.floatingIps[0].driver = 'hcloud'
      p.floatingIps[0].hcloud = { floatingIpId: 42, apiUrl: api.url }
      p.fencing = { driver: 'hcloud', hcloud: { apiUrl: api.url } }
    },
  })
  vip = lab.inv.data.pairs[0].floatingIps![0].address
  // Hetzner has the address routed to the primary's server from `pulumi up` on.
  api.addFloatingIp(42, vip, 101)
  api.onPowerOff = async (id) => {
    await labFault(
      lab.inv,
      'kill',
      Object.keys(SERVER).find((n) => SERVER[n] === id)!,
    )
  }
})
test.after(async () => {
  await lab?.down()
  await api?.close()
  if (savedToken === undefined) delete process.env.HCLOUD_TOKEN
  else process.env.HCLOUD_TOKEN = savedToken
})

const run = async (name: string, ...args: string[]): Promise<PlaybookRun> => {
  const r = await playbook(name, ['--inventory', lab.file, ...args])
  outputs.push(r.stdout, r.stderr)
  return r
}
test('start through the hcloud driver: the API already routes to node-a, so only its kernel changes', async () => {
  const pool = new SshPool(lab.inv)
  try {
    const pair = lab.inv.data.pairs[0]
    const d = ipDriver(pair.floatingIps![0], { inv: lab.inv, pair, pool }) as CloudIpDriver
    const r = await d.start(pair.nodes[0])
    assert.ok(r.changed, r.detail)
    assert.is(api.count('POST', /./), 0, 'no API call needed')
    const p = await d.probe()
    assert.equal(p.api, { 'node-a': 'held', 'node-b': 'free' })
    assert.ok(p.agrees, p.problems.join('; '))
  } finally {
    pool.close()
  }
  assert.equal(await lab.holders(vip), ['node-a'])
  assert.match(await httpBody(vip), /node-a/)
})

test('planned failover: the floating IP moves through the API and the kernels, the service answers from node-b', async () => {
  const r = await run('failover', '--to', 'node-b', '--yes', '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
  const move = json(r).steps.find((s: any) => s.name === 'move-ip')
  assert.match(move.detail, /floating IP 42 .* assigned to node-b \(server 102\)/)
  assert.is(api.floatingIps.get(42)!.server, 102)
  assert.ok(api.requests.some((q) => q.method === 'POST' && q.path === '/v1/floating_ips/42/actions/assign' && q.body?.server === 102))
  assert.equal(await lab.holders(vip), ['node-b'])
  assert.match(await httpBody(vip), /node-b/)
  assert.is(api.servers.get(101)!.status, 'running', 'a reachable node is stopped over SSH, not powered off')
})

test('unreachable active node: fenced by the hcloud power-off, then the address moves back to node-a', async () => {
  await labFault(lab.inv, 'isolate', 'node-b')
  const r = await run('failover', '--to', 'node-a', '--yes', '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
  const steps = json(r).steps
  assert.match(steps.find((s: any) => s.name === 'fence').detail, /node-b .* powered off through the hcloud API/)
  assert.ok(
    api.requests.some((q) => q.method === 'POST' && q.path === '/v1/servers/102/actions/poweroff'),
    'power-off through the API',
  )
  assert.is(api.servers.get(102)!.status, 'off')
  assert.is(api.floatingIps.get(42)!.server, 101)
  assert.equal(await lab.holders(vip), ['node-a'], 'node-b is powered off: its kernel holds nothing')
  assert.match(await httpBody(vip), /node-a/)
})

test('a token the API rejects is found at preflight: refused (exit 3), nothing fenced or moved; status is DEGRADED', async () => {
  const before = await lab.holders(vip)
  const posts = api.count('POST', /./)
  const bad = { HCLOUD_TOKEN: 'hcloud-rejected-token-000000000000' }
  const r = await playbook('failover', ['--inventory', lab.file, '--yes', '--json', '--to', 'node-b'], { env: bad })
  outputs.push(r.stdout, r.stderr)
  assert.is(r.code, 3, r.stdout + r.stderr)
  assert.match(r.stderr, /credentials rejected by/)
  assert.equal(await lab.holders(vip), before, 'nothing moved')
  assert.match(await httpBody(vip), new RegExp(before[0]))
  assert.is(api.count('POST', /./), posts, 'no mutating API call')
  const st = await playbook('status', ['--inventory', lab.file, '--json'], { env: bad })
  outputs.push(st.stdout, st.stderr)
  assert.is(st.code, 1, st.stdout + st.stderr)
  assert.ok(
    JSON.parse(st.stdout).pairs[0].degradedReasons.some((x: string) => /cannot observe who holds it/.test(x)),
    st.stdout,
  )
})

test('the API token never appeared in any playbook output', () => {
  assert.ok(outputs.join('').length > 0)
  assert.not.ok(outputs.join('\n').includes(TOKEN))
})

test.run()
