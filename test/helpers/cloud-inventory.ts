// Small validated inventories for the cloud driver tests: one pair, two nodes with provider
// ids, one floating IP moved by the given driver, fencing by the same provider.
import { parseInventory, type LoadedInventory } from '../../lib/inventory/load.ts'
import type { DriverContext } from '../../lib/drivers/types.ts'
import type { SshPool } from '../../lib/ssh.ts'

export interface CloudFixture { inv: LoadedInventory; ctx: (pool: SshPool) => DriverContext }

export function cloudInventory(provider: 'hcloud' | 'digitalocean', apiUrl: string, opts: { dir?: string; tokenFile?: string } = {}): CloudFixture {
  const id = (n: number) => (provider === 'hcloud' ? { hcloud: { serverId: n } } : { digitalocean: { dropletId: n } })
  const creds = { apiUrl, ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}) }
  const data = {
    version: 1,
    pairs: [{
      name: 'web',
      primary: 'node-a',
      nodes: [
        { name: 'node-a', address: '192.0.2.11', interface: 'eth0', ...id(101) },
        { name: 'node-b', address: '192.0.2.12', interface: 'eth0', ...id(102) },
      ],
      floatingIps: [{ name: 'vip', address: '203.0.113.10', driver: provider, [provider]: provider === 'hcloud' ? { floatingIpId: 42, ...creds } : creds }],
      fencing: { driver: provider, [provider]: creds },
    }],
  }
  const inv = parseInventory(JSON.stringify(data), `${opts.dir ?? '/tmp'}/cloud-test.json`)
  const pair = inv.data.pairs[0]
  return { inv, ctx: (pool) => ({ inv, pair, pool }) }
}
