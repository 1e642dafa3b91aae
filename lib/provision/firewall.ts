// The inbound rules of a provisioned pair, provider-neutral: each stack maps them to its
// provider's firewall. SSH only from the declared admin networks; the nodes reach each other
// (sync over SSH, probes, ping) on the pair's private network only, never on their public
// addresses; service ports as declared, open to all when no sources are given.
import type { LoadedInventory } from '../inventory/load.ts'
import { sshSettings } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'

export interface InboundRule {
  description: string
  protocol: 'tcp' | 'udp' | 'icmp'
  /** "22" or "8000-8100"; none for icmp. */
  port?: string
  /**
   * CIDRs; `peers: true` adds the pair's private network (resolved by the stack: DigitalOcean's
   * firewall filters VPC traffic, so the VPC's range; Hetzner's firewall applies to public
   * interfaces only, so nothing: a peers-only rule is left out).
   */
  sources: string[]
  peers?: boolean
}

export const WORLD = ['0.0.0.0/0', '::/0']
export const isWorld = (cidr: string) => /^0\.0\.0\.0\/0$|^::\/0$/.test(cidr)

export const sshPorts = (inv: LoadedInventory, pair: Pair): number[] =>
  [...new Set(pair.nodes.map((n) => sshSettings(inv, pair, n).port))].sort((a, b) => a - b)

export function inboundRules(inv: LoadedInventory, pair: Pair): InboundRule[] {
  const p = pair.provision!
  const rules: InboundRule[] = []
  for (const port of sshPorts(inv, pair)) {
    rules.push({ description: `ssh from admin networks`, protocol: 'tcp', port: String(port), sources: [...p.adminNetworks] })
    rules.push({ description: `ssh between the nodes (sync, private network)`, protocol: 'tcp', port: String(port), sources: [], peers: true })
  }
  // Latency and reachability checks ping; ICMP also carries path-MTU discovery.
  rules.push({ description: 'icmp from admin networks and the private network', protocol: 'icmp', sources: [...p.adminNetworks], peers: true })
  for (const s of p.servicePorts ?? []) {
    rules.push({
      description: `service ${s.protocol}/${s.port}`,
      protocol: s.protocol,
      port: String(s.port),
      sources: s.sources?.length ? [...s.sources] : [...WORLD],
    })
  }
  return rules
}
