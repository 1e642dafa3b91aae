// First-boot user data for a provisioned node: the packages the playbooks need on a node,
// the state directory, and, on the primary only, the floating IPs in the kernel.
// Why only the primary, and only at runtime (not in netplan or ifupdown): the playbooks'
// linux driver is the one thing that moves addresses afterwards, so exactly one kernel holds
// them, matching the provider's assignment; a rebooted or fenced ex-primary never comes back
// holding an address it lost. After a reboot of the active node, `failover --to` it (or the
// IP driver's start) puts the address back.
import YAML from 'yaml'
import { stateDir } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'

/** Debian packages for what the playbooks run on a node: rsync (sync), ip and arping (IP driver), chrony (clock skew precondition), tar/gzip (backups). */
export const NODE_PACKAGES = ['rsync', 'iproute2', 'arping', 'chrony', 'tar', 'gzip', 'ca-certificates']

export interface HeldAddress { address: string; prefix: number }

export interface CloudInitInput {
  pair: Pair
  node: Node
  /** Addresses this node's kernel takes at first boot (the primary's floating IPs); empty on others. */
  hold: HeldAddress[]
}

export function cloudInit({ pair, node, hold }: CloudInitInput): string {
  const dev = node.interface ?? 'eth0'
  const runcmd: (string | string[])[] = [['mkdir', '-p', stateDir(pair)]]
  for (const h of hold) {
    const v6 = h.address.includes(':')
    // "|| true": on a re-run of cloud-init the address is already there, which is fine.
    runcmd.push(['sh', '-c', (v6 ? sh`ip -6 addr add ${`${h.address}/${h.prefix}`} dev ${dev} nodad` : sh`ip addr add ${`${h.address}/${h.prefix}`} dev ${dev}`) + ' || true'])
  }
  const doc = {
    package_update: true,
    packages: NODE_PACKAGES,
    write_files: [{
      path: '/etc/hapair/node.json',
      permissions: '0644',
      content: JSON.stringify({ pair: pair.name, node: node.name, primary: pair.primary, floatingIps: hold.map((h) => `${h.address}/${h.prefix}`) }, null, 2) + '\n',
    }],
    runcmd,
  }
  return `#cloud-config\n# hapair: pair ${pair.name}, node ${node.name}${node.name === pair.primary ? ' (primary)' : ''}\n${YAML.stringify(doc)}`
}
