// One HA pair on DigitalOcean: one droplet per node, a reserved IP assigned to the primary's
// droplet, and a firewall (SSH from admin networks and the peers only, service ports as
// declared) applied by tag. DigitalOcean has no anti-affinity placement: see README, "Provisioning a pair in the cloud".
// The reserved IP needs no kernel configuration: DigitalOcean delivers it to the droplet's
// anchor address, so cloud-init installs the node-side packages and holds nothing.
// The droplets share the pair's own VPC, which carries node-to-node traffic (sync over SSH, the
// probes a surviving node makes of the active). DigitalOcean's firewall filters VPC traffic
// too, so the peers' rules name the VPC's range, never the droplets' tag (which would admit
// their public addresses).
import * as pulumi from '@pulumi/pulumi'
import * as digitalocean from '@pulumi/digitalocean'
import { cloudInit } from '../../lib/provision/cloud-init.ts'
import { isWorld, type InboundRule } from '../../lib/provision/firewall.ts'
import type { StackPairOutput } from '../../lib/provision/outputs.ts'
import type { PairPlan } from '../../lib/provision/plan.ts'
import type { PairDeclared } from '../policy/rules.ts'
import { keyMaterial, keyOutputs, nodeKeys, type NodeKeys } from '../shared/node-keys.ts'
import { hostName, numericId } from '../shared/stack.ts'

export interface HaPairArgs {
  plan: PairPlan
  sshKeyFingerprint: pulumi.Input<string>
}

/** DigitalOcean tags: letters, digits, ":", "-", "_". */
const tagSafe = (s: string) => s.replace(/[^A-Za-z0-9:_-]/g, '_')

export class HaPair extends pulumi.ComponentResource {
  readonly tag: digitalocean.Tag
  readonly droplets: Record<string, digitalocean.Droplet> = {}
  /** Each node's host and sync keys (tls.PrivateKey), made before the droplets. */
  readonly keys: Record<string, NodeKeys>
  readonly reservedIp: digitalocean.ReservedIp
  readonly firewall: digitalocean.Firewall
  readonly vpc: digitalocean.Vpc
  /** What the inventory declared, registered as the component's outputs for the policy pack (stacks/policy). */
  readonly declared: PairDeclared
  readonly outputs: pulumi.Output<StackPairOutput>

  constructor(name: string, args: HaPairArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hapair:digitalocean:HaPair', name, {}, opts)
    const { pair, nodes, labels, rules } = args.plan
    const child = { parent: this }
    const primary = nodes.find((n) => n.primary)!

    this.tag = new digitalocean.Tag(`${name}-tag`, { name: tagSafe(`hapair-${pair.name}`) }, child)
    const labelTags = Object.entries(labels).map(([k, v]) => tagSafe(`${k}:${v}`))

    this.keys = nodeKeys(name, args.plan, this)
    // No ipRange: DigitalOcean picks one that overlaps no other VPC of the account in the region.
    this.vpc = new digitalocean.Vpc(
      `${name}-vpc`,
      { name: tagSafe(`hapair-${pair.name}`).replace(/[_:]/g, '-'), region: primary.location, description: `hapair pair ${pair.name}: node-to-node traffic` },
      child,
    )
    this.declared = { sshFromWorld: args.plan.provision.adminNetworks.some(isWorld), sshPorts: args.plan.sshPorts, nodes: nodes.length }

    for (const n of nodes) {
      const material = keyMaterial(args.plan, this.keys, n.node.name)
      this.droplets[n.node.name] = new digitalocean.Droplet(
        `${name}-${n.node.name}`,
        {
          name: hostName(n.node.name),
          size: n.serverType,
          image: n.image,
          region: n.location,
          sshKeys: [args.sshKeyFingerprint],
          ipv6: true,
          monitoring: true,
          vpcUuid: this.vpc.id,
          tags: [this.tag.name, ...labelTags, tagSafe(`hapair-role:${n.primary ? 'primary' : 'secondary'}`)],
          // It carries the node's private keys: a secret in the state.
          userData: pulumi.secret(material.apply((keys) => cloudInit({ pair, node: n.node, hold: [], keys }))),
        },
        {
          ...child,
          // First-boot data and keys, and the VPC (a droplet cannot move to another): changing
          // them would rebuild a droplet that holds the pair's data. A droplet made before the
          // pair had its VPC stays where it is, and the policy pack's sync-traffic-private says so.
          ignoreChanges: ['userData', 'sshKeys', 'image', 'vpcUuid'],
        },
      )
    }

    const inbound = (r: InboundRule): digitalocean.types.input.FirewallInboundRule => ({
      protocol: r.protocol,
      ...(r.port ? { portRange: r.port } : {}),
      sourceAddresses: r.peers ? this.vpc.ipRange.apply((range) => [...r.sources, range]) : r.sources,
    })
    // A DigitalOcean firewall without outbound rules blocks all egress (package installs, NTP).
    const outbound = (['tcp', 'udp', 'icmp'] as const).map((protocol): digitalocean.types.input.FirewallOutboundRule => ({
      protocol,
      ...(protocol === 'icmp' ? {} : { portRange: 'all' }),
      destinationAddresses: ['0.0.0.0/0', '::/0'],
    }))
    this.firewall = new digitalocean.Firewall(
      `${name}-fw`,
      {
        name: `${name}-fw`,
        tags: [this.tag.name],
        inboundRules: rules.map(inbound),
        outboundRules: outbound,
      },
      child,
    )

    // The reserved IP carries its assignment (dropletId) itself, not a ReservedIpAssignment:
    // that resource vanishes from the state once a failover moves the address, and the next
    // `pulumi up` would re-create it, moving the address back to the primary.
    this.reservedIp = new digitalocean.ReservedIp(
      `${name}-vip`,
      {
        region: primary.location,
        dropletId: numericId(this.droplets[primary.node.name].id),
      },
      { ...child, ignoreChanges: ['dropletId'] },
    )

    const nodeOut = nodes.map((n) => {
      const d = this.droplets[n.node.name]
      return pulumi
        .all([numericId(d.id), d.ipv4Address, d.ipv6Address, d.ipv4AddressPrivate, keyOutputs(this.keys[n.node.name], n.node.name)])
        .apply(([id, ipv4, ipv6, privateIpv4, keys]) => [n.node.name, { id, ipv4, ...(ipv6 ? { ipv6 } : {}), privateIpv4, ...keys }] as const)
    })
    const vip = args.plan.floatingIps[0]
    this.outputs = pulumi.all([pulumi.all(nodeOut), this.reservedIp.ipAddress]).apply(([ns, address]): StackPairOutput => ({
      provider: 'digitalocean',
      nodes: Object.fromEntries(ns),
      floatingIps: [{ name: vip.name, address, family: 'ipv4' }],
    }))
    this.registerOutputs({ outputs: this.outputs, declared: this.declared })
  }
}
