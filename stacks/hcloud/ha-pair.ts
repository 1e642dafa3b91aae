// One HA pair on Hetzner Cloud: a spread placement group (the two servers never share a
// host), one server per node in it, the floating IP(s) assigned to the primary's server,
// firewalls (SSH from admin networks and the peers only, service ports as declared), and
// cloud-init that puts the floating IP in the primary's kernel, since Hetzner does not.
import * as pulumi from '@pulumi/pulumi'
import * as hcloud from '@pulumi/hcloud'
import { cloudInit } from '../../lib/provision/cloud-init.ts'
import type { InboundRule } from '../../lib/provision/firewall.ts'
import { ipv6FloatingHost, type StackPairOutput } from '../../lib/provision/outputs.ts'
import type { FloatingIpPlan, PairPlan } from '../../lib/provision/plan.ts'
import { hostName, numericId } from '../shared/stack.ts'

export interface HaPairArgs {
  plan: PairPlan
  sshKeyId: pulumi.Input<string>
}

const rule = (r: InboundRule, sources: pulumi.Input<string>[]): hcloud.types.input.FirewallRule => ({
  description: r.description, direction: 'in', protocol: r.protocol, ...(r.port ? { port: r.port } : {}), sourceIps: sources,
})

export class HaPair extends pulumi.ComponentResource {
  readonly placementGroup: hcloud.PlacementGroup
  readonly servers: Record<string, hcloud.Server> = {}
  readonly floatingIps: { plan: FloatingIpPlan; ip: hcloud.FloatingIp; assignment: hcloud.FloatingIpAssignment }[] = []
  readonly adminFirewall: hcloud.Firewall
  readonly peerFirewall: hcloud.Firewall
  readonly outputs: pulumi.Output<StackPairOutput>

  constructor(name: string, args: HaPairArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hapair:hcloud:HaPair', name, {}, opts)
    const { pair, nodes, labels, rules } = args.plan
    const child = { parent: this }
    const primary = nodes.find((n) => n.primary)!

    this.placementGroup = new hcloud.PlacementGroup(`${name}-spread`, { name: `${name}-spread`, type: 'spread', labels }, child)

    const ips = args.plan.floatingIps.map((f) => ({
      plan: f,
      ip: new hcloud.FloatingIp(`${name}-${f.name}`, {
        name: `${name}-${f.name}`, type: f.family, homeLocation: primary.location, labels,
        description: `hapair pair ${pair.name}: follows the active node`,
      }, child),
    }))
    // The address the kernel holds: the IPv4 itself, or ::1 of the IPv6 /64.
    const held = pulumi.all(ips.map((i) => (i.plan.family === 'ipv6' ? i.ip.ipNetwork.apply(ipv6FloatingHost) : i.ip.ipAddress)))
      .apply((addrs) => addrs.map((address, k) => ({ address, prefix: ips[k].plan.prefix })))

    this.adminFirewall = new hcloud.Firewall(`${name}-admin`, {
      name: `${name}-admin`, labels,
      rules: rules.filter((r) => r.sources.length).map((r) => rule(r, r.sources)),
    }, child)

    for (const n of nodes) {
      this.servers[n.node.name] = new hcloud.Server(`${name}-${n.node.name}`, {
        name: hostName(n.node.name), serverType: n.serverType, image: n.image, location: n.location,
        placementGroupId: numericId(this.placementGroup.id),
        sshKeys: [args.sshKeyId],
        firewallIds: [numericId(this.adminFirewall.id)],
        publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
        labels: { ...labels, 'hapair-node': n.node.name, 'hapair-role': n.primary ? 'primary' : 'secondary' },
        userData: held.apply((hold) => cloudInit({ pair, node: n.node, hold: n.primary ? hold : [] })),
      }, {
        ...child,
        // First-boot data and keys: changing them would rebuild a server that holds the pair's data.
        ignoreChanges: ['userData', 'sshKeys', 'image'],
      })
    }
    const servers = Object.values(this.servers)

    // Peers reach each other's SSH (sync). Their addresses exist only once the servers do, so
    // this firewall is attached afterwards; the admin firewall is on from the first boot.
    const peerSources = servers.flatMap((s) => [pulumi.interpolate`${s.ipv4Address}/32`, s.ipv6Network])
    this.peerFirewall = new hcloud.Firewall(`${name}-peers`, {
      name: `${name}-peers`, labels,
      rules: rules.filter((r) => r.peers).map((r) => rule(r, peerSources)),
    }, child)
    new hcloud.FirewallAttachment(`${name}-peers`, { firewallId: numericId(this.peerFirewall.id), serverIds: servers.map((s) => numericId(s.id)) }, child)

    const primaryServer = this.servers[primary.node.name]
    for (const i of ips) {
      this.floatingIps.push({
        ...i,
        assignment: new hcloud.FloatingIpAssignment(`${name}-${i.plan.name}`, {
          floatingIpId: numericId(i.ip.id), serverId: numericId(primaryServer.id),
        }, {
          ...child,
          // After a failover the playbooks move the address through the API; `pulumi up` must not move it back.
          ignoreChanges: ['serverId'],
        }),
      })
    }

    const nodeOut = nodes.map((n) => {
      const s = this.servers[n.node.name]
      return pulumi.all([numericId(s.id), s.ipv4Address, s.ipv6Address]).apply(([id, ipv4, ipv6]) => [n.node.name, { id, ipv4, ipv6 }] as const)
    })
    const ipOut = this.floatingIps.map((i, k) => pulumi.all([numericId(i.ip.id), held]).apply(([id, h]) => ({ name: i.plan.name, id, address: h[k].address, family: i.plan.family })))
    this.outputs = pulumi.all([pulumi.all(nodeOut), pulumi.all(ipOut)])
      .apply(([ns, fs]): StackPairOutput => ({ provider: 'hcloud', nodes: Object.fromEntries(ns), floatingIps: fs }))
    this.registerOutputs({ outputs: this.outputs })
  }
}
