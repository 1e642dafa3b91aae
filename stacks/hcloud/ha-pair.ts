// One HA pair on Hetzner Cloud: a spread placement group (the two servers never share a
// host), one server per node in it on its own primary IPs, the floating IP(s) assigned to the
// primary's server, one firewall (SSH from admin networks and the peers only, service ports as
// declared), and cloud-init that installs the generated keys and puts the floating IP in the
// primary's kernel, since Hetzner does not. The pair's own private network (a Network and one
// subnet in the servers' network zone) carries node-to-node traffic: sync over SSH and the
// probes a surviving node makes of the active. Hetzner's firewalls filter public interfaces
// only, so the firewall opens nothing to the peers: they are reached on the private addresses.
//
// The firewall is attached one way only: each server's firewallIds, at creation, so it guards
// the first boot. Setting firewallIds and also a FirewallAttachment is what
// hetznercloud/terraform-provider-hcloud#828 reports: the server's firewallIds is authoritative,
// and the next apply detaches the attachment's firewall from it (the Pulumi provider is that
// provider, bridged). A separate peer firewall, attached once the servers' addresses exist, is
// what that combination was for; instead each server gets primary IPs made before it, so the
// peers' addresses are known when the one firewall is declared. (Primary IPs also outlive a
// server rebuild, so a rebuilt node keeps the address its peers and the controller know.)
import * as pulumi from '@pulumi/pulumi'
import * as hcloud from '@pulumi/hcloud'
import { cloudInit } from '../../lib/provision/cloud-init.ts'
import { isWorld, type InboundRule } from '../../lib/provision/firewall.ts'
import { ipv6FloatingHost, type StackPairOutput } from '../../lib/provision/outputs.ts'
import type { FloatingIpPlan, PairPlan } from '../../lib/provision/plan.ts'
import type { PairDeclared } from '../policy/rules.ts'
import { keyMaterial, keyOutputs, nodeKeys, type NodeKeys } from '../shared/node-keys.ts'
import { hostName, numericId } from '../shared/stack.ts'

/** The pair's private network: its own, so every pair may use the same range. */
export const PRIVATE_RANGE = '10.0.0.0/16'
export const PRIVATE_SUBNET = '10.0.1.0/24'
/** Each node's fixed address in the subnet (.1 is Hetzner's gateway), known before any server exists. */
export const privateIp = (index: number) => `10.0.1.${10 + index}`

/** A Hetzner subnet lives in a network zone; each location belongs to one. */
export function networkZone(location: string): string {
  if (location.startsWith('ash')) return 'us-east'
  if (location.startsWith('hil')) return 'us-west'
  if (location.startsWith('sin')) return 'ap-southeast'
  return 'eu-central'
}

export interface HaPairArgs {
  plan: PairPlan
  sshKeyId: pulumi.Input<string>
}

const rule = (r: InboundRule, sources: pulumi.Input<string>[]): hcloud.types.input.FirewallRule => ({
  description: r.description,
  direction: 'in',
  protocol: r.protocol,
  ...(r.port ? { port: r.port } : {}),
  sourceIps: sources,
})

export class HaPair extends pulumi.ComponentResource {
  readonly placementGroup: hcloud.PlacementGroup
  readonly servers: Record<string, hcloud.Server> = {}
  /** Each node's host and sync keys (tls.PrivateKey), made before the servers. */
  readonly keys: Record<string, NodeKeys>
  readonly floatingIps: { plan: FloatingIpPlan; ip: hcloud.FloatingIp; assignment: hcloud.FloatingIpAssignment }[] = []
  /** Each node's primary IPv4 and IPv6, made before its server. */
  readonly primaryIps: Record<string, { ipv4: hcloud.PrimaryIp; ipv6: hcloud.PrimaryIp }> = {}
  /** The pair's one firewall, on every server from its creation (firewallIds). */
  readonly firewall: hcloud.Firewall
  readonly network: hcloud.Network
  readonly subnet: hcloud.NetworkSubnet
  /** Each server's attachment to the private network, at its fixed address. */
  readonly attachments: Record<string, hcloud.ServerNetwork> = {}
  /** What the inventory declared, registered as the component's outputs for the policy pack (stacks/policy). */
  readonly declared: PairDeclared
  readonly outputs: pulumi.Output<StackPairOutput>

  constructor(name: string, args: HaPairArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hapair:hcloud:HaPair', name, {}, opts)
    const { pair, nodes, labels, rules } = args.plan
    const child = { parent: this }
    const primary = nodes.find((n) => n.primary)!

    this.placementGroup = new hcloud.PlacementGroup(`${name}-spread`, { name: `${name}-spread`, type: 'spread', labels }, child)

    const ips = args.plan.floatingIps.map((f) => ({
      plan: f,
      ip: new hcloud.FloatingIp(
        `${name}-${f.name}`,
        {
          name: `${name}-${f.name}`,
          type: f.family,
          homeLocation: primary.location,
          labels,
          description: `hapair pair ${pair.name}: follows the active node`,
        },
        child,
      ),
    }))
    // The address the kernel holds: the IPv4 itself, or ::1 of the IPv6 /64.
    const held = pulumi
      .all(ips.map((i) => (i.plan.family === 'ipv6' ? i.ip.ipNetwork.apply(ipv6FloatingHost) : i.ip.ipAddress)))
      .apply((addrs) => addrs.map((address, k) => ({ address, prefix: ips[k].plan.prefix })))

    for (const n of nodes) {
      const ip = (type: 'ipv4' | 'ipv6') =>
        new hcloud.PrimaryIp(
          `${name}-${n.node.name}-${type}`,
          {
            name: `${name}-${n.node.name}-${type}`,
            type,
            location: n.location,
            assigneeType: 'server',
            autoDelete: false,
            labels: { ...labels, 'hapair-node': n.node.name },
          },
          child,
        )
      this.primaryIps[n.node.name] = { ipv4: ip('ipv4'), ipv6: ip('ipv6') }
    }
    this.firewall = new hcloud.Firewall(
      `${name}-fw`,
      {
        name: `${name}-fw`,
        labels,
        // The peers' rules need no source here: their traffic is on the private network, which this firewall does not see.
        rules: rules.filter((r) => r.sources.length).map((r) => rule(r, r.sources)),
      },
      child,
    )

    this.network = new hcloud.Network(`${name}-net`, { name: `${name}-net`, ipRange: PRIVATE_RANGE, labels }, child)
    this.subnet = new hcloud.NetworkSubnet(
      `${name}-subnet`,
      { networkId: numericId(this.network.id), type: 'cloud', networkZone: networkZone(primary.location), ipRange: PRIVATE_SUBNET },
      child,
    )
    this.declared = { sshFromWorld: args.plan.provision.adminNetworks.some(isWorld), sshPorts: args.plan.sshPorts, nodes: nodes.length }

    this.keys = nodeKeys(name, args.plan, this)

    for (const n of nodes) {
      const material = keyMaterial(args.plan, this.keys, n.node.name)
      this.servers[n.node.name] = new hcloud.Server(
        `${name}-${n.node.name}`,
        {
          name: hostName(n.node.name),
          serverType: n.serverType,
          image: n.image,
          location: n.location,
          placementGroupId: numericId(this.placementGroup.id),
          sshKeys: [args.sshKeyId],
          firewallIds: [numericId(this.firewall.id)],
          publicNets: [
            {
              ipv4Enabled: true,
              ipv4: numericId(this.primaryIps[n.node.name].ipv4.id),
              ipv6Enabled: true,
              ipv6: numericId(this.primaryIps[n.node.name].ipv6.id),
            },
          ],
          labels: { ...labels, 'hapair-node': n.node.name, 'hapair-role': n.primary ? 'primary' : 'secondary' },
          // It carries the node's private keys: a secret in the state.
          userData: pulumi.secret(pulumi.all([held, material]).apply(([hold, keys]) => cloudInit({ pair, node: n.node, hold: n.primary ? hold : [], keys }))),
        },
        {
          ...child,
          // First-boot data and keys: changing them would rebuild a server that holds the pair's data.
          ignoreChanges: ['userData', 'sshKeys', 'image'],
        },
      )
    }
    nodes.forEach((n, i) => {
      this.attachments[n.node.name] = new hcloud.ServerNetwork(
        `${name}-${n.node.name}-private`,
        { serverId: numericId(this.servers[n.node.name].id), networkId: numericId(this.network.id), ip: privateIp(i) },
        // The network must have its subnet before a server can take an address in it.
        { ...child, dependsOn: [this.subnet] },
      )
    })
    const primaryServer = this.servers[primary.node.name]
    for (const i of ips) {
      this.floatingIps.push({
        ...i,
        assignment: new hcloud.FloatingIpAssignment(
          `${name}-${i.plan.name}`,
          {
            floatingIpId: numericId(i.ip.id),
            serverId: numericId(primaryServer.id),
          },
          {
            ...child,
            // After a failover the playbooks move the address through the API; `pulumi up` must not move it back.
            ignoreChanges: ['serverId'],
          },
        ),
      })
    }

    const nodeOut = nodes.map((n) => {
      const s = this.servers[n.node.name]
      return pulumi
        .all([numericId(s.id), s.ipv4Address, s.ipv6Address, this.attachments[n.node.name].ip, keyOutputs(this.keys[n.node.name], n.node.name)])
        .apply(([id, ipv4, ipv6, privateIpv4, keys]) => [n.node.name, { id, ipv4, ipv6, privateIpv4, ...keys }] as const)
    })
    const ipOut = this.floatingIps.map((i, k) =>
      pulumi.all([numericId(i.ip.id), held]).apply(([id, h]) => ({ name: i.plan.name, id, address: h[k].address, family: i.plan.family })),
    )
    this.outputs = pulumi
      .all([pulumi.all(nodeOut), pulumi.all(ipOut)])
      .apply(([ns, fs]): StackPairOutput => ({ provider: 'hcloud', nodes: Object.fromEntries(ns), floatingIps: fs }))
    this.registerOutputs({ outputs: this.outputs, declared: this.declared })
  }
}
