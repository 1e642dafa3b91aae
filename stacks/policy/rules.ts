// The rules every hapair stack must keep, as Pulumi stack policies: `pulumi preview --policy-pack
// stacks/policy` runs them against the planned resources, and the stack tests run the same
// functions against the resources the programs declare under mocks. Stack policies, not
// resource ones: each rule relates resources of one pair (a server and its placement group, an
// assignment and the primary's server), found through the pair's component (their parent).
//
// A reference between resources (a server's placementGroupId) is checked through the engine's
// property dependencies where it gives them (they are known in a preview, while the ids are
// not), else by comparing the value with the target's id.
import type { PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy } from '@pulumi/policy'

/** What a pair's component registers beside its outputs: the inventory's decisions the rules need. */
export interface PairDeclared {
  /** The inventory's adminNetworks include 0.0.0.0/0 or ::/0: SSH open to the world was asked for. */
  sshFromWorld: boolean
  /** The nodes' SSH ports. */
  sshPorts: string[]
  nodes: number
}

const COMPONENTS = new Set(['hapair:hcloud:HaPair', 'hapair:digitalocean:HaPair'])
const WORLD = /^0\.0\.0\.0\/0$|^::\/0$/

const HC = {
  server: 'hcloud:index/server:Server',
  placementGroup: 'hcloud:index/placementGroup:PlacementGroup',
  firewall: 'hcloud:index/firewall:Firewall',
  floatingIp: 'hcloud:index/floatingIp:FloatingIp',
  assignment: 'hcloud:index/floatingIpAssignment:FloatingIpAssignment',
  network: 'hcloud:index/network:Network',
  subnet: 'hcloud:index/networkSubnet:NetworkSubnet',
  attachment: 'hcloud:index/serverNetwork:ServerNetwork',
  primaryIp: 'hcloud:index/primaryIp:PrimaryIp',
}
const DO = {
  droplet: 'digitalocean:index/droplet:Droplet',
  firewall: 'digitalocean:index/firewall:Firewall',
  reservedIp: 'digitalocean:index/reservedIp:ReservedIp',
  vpc: 'digitalocean:index/vpc:Vpc',
  tag: 'digitalocean:index/tag:Tag',
}

interface PairResources {
  component: PolicyResource
  declared: PairDeclared
  provider: 'hcloud' | 'digitalocean'
  of(type: string): PolicyResource[]
}

/**
 * A value a preview does not know yet (an address the provider assigns) reads as undefined:
 * the policy SDK throws its UnknownValueError on access, and a rule skips what it cannot see
 * rather than failing the whole policy.
 */
function known<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch (e) {
    if ((e as Error)?.constructor?.name === 'UnknownValueError') return undefined
    throw e
  }
}

function pairsOf(resources: PolicyResource[]): PairResources[] {
  return resources
    .filter((r) => COMPONENTS.has(r.type))
    .map((component) => {
      const members = resources.filter((r) => r.parent === component)
      return {
        component,
        declared: component.props.declared as PairDeclared,
        provider: component.type === 'hapair:hcloud:HaPair' ? 'hcloud' : 'digitalocean',
        of: (type: string) => members.filter((r) => r.type === type),
      }
    })
}

/**
 * Whether `from`'s property `prop` names `to` (its id, or one of a list of ids). true/false, or
 * undefined when neither dependencies nor values say (a preview before the ids exist).
 */
export function refersTo(from: PolicyResource, prop: string, to: PolicyResource): boolean | undefined {
  const deps = from.propertyDependencies?.[prop]
  if (deps?.length) return deps.includes(to)
  if (!(prop in from.props)) return false
  const v = known(() => from.props[prop])
  const id = known(() => to.props.id)
  if (v === undefined || id === undefined) return undefined
  return (Array.isArray(v) ? v : [v]).some((x) => String(x) === String(id))
}

/** A firewall's port spec ("22", "8000-8100", "all", none) admits `port`. */
function coversPort(spec: unknown, port: string): boolean {
  if (spec === undefined || spec === null || spec === '' || spec === 'all' || spec === 'any') return true
  const [lo, hi] = String(spec).split('-').map(Number)
  const p = Number(port)
  return p >= lo && p <= (hi ?? lo)
}

interface Inbound {
  urn: string
  label: string
  protocol: string
  port: unknown
  sources: (string | undefined)[]
  /** DigitalOcean's sourceTags / sourceDropletIds: the tagged droplets on any of their addresses. */
  byResource: string[]
}

function inbound(pair: PairResources): Inbound[] {
  if (pair.provider === 'hcloud') {
    return pair.of(HC.firewall).flatMap((fw) =>
      ((known(() => fw.props.rules) ?? []) as any[])
        .filter((r) => known(() => r.direction) === 'in')
        .map((r, i) => ({
          urn: fw.urn,
          label: `rule ${i} ("${known(() => r.description) ?? ''}")`,
          protocol: known(() => r.protocol),
          port: known(() => r.port),
          sources: ((known(() => r.sourceIps) ?? []) as unknown[]).map((_, k) => known(() => r.sourceIps[k])),
          byResource: [],
        })),
    )
  }
  return pair.of(DO.firewall).flatMap((fw) =>
    ((known(() => fw.props.inboundRules) ?? []) as any[]).map((r, i) => ({
      urn: fw.urn,
      label: `inbound rule ${i}`,
      protocol: known(() => r.protocol),
      port: known(() => r.portRange),
      sources: ((known(() => r.sourceAddresses) ?? []) as unknown[]).map((_, k) => known(() => r.sourceAddresses[k])),
      byResource: [
        ...((known(() => r.sourceTags) ?? []) as unknown[]).map((_, k) => `tag ${known(() => r.sourceTags[k]) ?? '(unknown)'}`),
        ...((known(() => r.sourceDropletIds) ?? []) as unknown[]).map((_, k) => `droplet ${known(() => r.sourceDropletIds[k]) ?? '(unknown)'}`),
      ],
    })),
  )
}

const sshRules = (pair: PairResources) => inbound(pair).filter((r) => r.protocol === 'tcp' && pair.declared.sshPorts.some((p) => coversPort(r.port, p)))

type Check = (pair: PairResources, report: ReportViolation) => void

function stackPolicy(name: string, description: string, check: Check): StackValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: 'mandatory',
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      for (const pair of pairsOf(args.resources)) check(pair, report)
    },
  }
}

/** SSH (the nodes' ports) is open to 0.0.0.0/0 or ::/0 only where the inventory's adminNetworks say so, and every server has the pair's firewall. */
export const sshNotOpenToWorld = stackPolicy(
  'ssh-not-open-to-world',
  "SSH is not open to the whole internet unless the inventory's adminNetworks declare it; every server of a pair is behind the pair's firewall",
  (pair, report) => {
    if (!pair.declared.sshFromWorld)
      for (const r of sshRules(pair)) {
        const world = r.sources.filter((s): s is string => s !== undefined && WORLD.test(s))
        if (world.length)
          report(`${r.label} opens SSH (${pair.declared.sshPorts.join(', ')}) to ${world.join(', ')}, which adminNetworks do not declare`, r.urn)
      }
    if (pair.provider === 'hcloud') {
      const fws = pair.of(HC.firewall)
      for (const s of pair.of(HC.server)) {
        if (!fws.some((fw) => refersTo(s, 'firewallIds', fw) !== false)) report(`server ${s.name} is not created with the pair's firewall (firewallIds)`, s.urn)
      }
    } else {
      const fwTags = pair.of(DO.firewall).flatMap((fw) => (known(() => fw.props.tags) ?? []) as string[])
      for (const d of pair.of(DO.droplet)) {
        const tags = (known(() => d.props.tags) ?? []) as (string | undefined)[]
        if (!tags.some((t) => t === undefined || fwTags.includes(t))) report(`droplet ${d.name} carries no tag the pair's firewall applies to`, d.urn)
      }
    }
  },
)

/** Hetzner: one spread placement group per pair, with every server of the pair in it. DigitalOcean has none: the droplets share one region. */
export const pairInOneSpreadGroup = stackPolicy(
  'pair-in-one-spread-group',
  "both servers of a pair are in the pair's one spread placement group (on different hosts); on DigitalOcean, which has no placement groups, in one region",
  (pair, report) => {
    if (pair.provider === 'hcloud') {
      const servers = pair.of(HC.server)
      if (servers.length !== pair.declared.nodes) report(`${servers.length} servers for the pair's ${pair.declared.nodes} nodes`, pair.component.urn)
      const groups = pair.of(HC.placementGroup)
      if (groups.length !== 1) {
        report(`${groups.length} placement groups in the pair, want one`, pair.component.urn)
        if (!groups.length) return
      }
      const g = groups[0]
      const type = known(() => g.props.type)
      if (type !== 'spread') report(`placement group ${g.name} has type "${type}", want "spread"`, g.urn)
      for (const s of servers) {
        if (refersTo(s, 'placementGroupId', g) === false) report(`server ${s.name} is not in the pair's placement group ${g.name}`, s.urn)
      }
    } else {
      const droplets = pair.of(DO.droplet)
      if (droplets.length !== pair.declared.nodes) report(`${droplets.length} droplets for the pair's ${pair.declared.nodes} nodes`, pair.component.urn)
      const regions = new Set(droplets.map((d) => known(() => d.props.region)).filter((r) => r !== undefined))
      if (regions.size > 1) report(`the droplets are in ${[...regions].join(', ')}: a reserved IP moves within one region only`, pair.component.urn)
    }
  },
)

const isPrimary = (r: PolicyResource, provider: 'hcloud' | 'digitalocean') =>
  provider === 'hcloud'
    ? known(() => r.props.labels?.['hapair-role']) === 'primary'
    : ((known(() => r.props.tags) ?? []) as unknown[]).includes('hapair-role:primary')

/** Every floating (reserved) IP of a pair is assigned to the primary's server. */
export const floatingIpOnPrimary = stackPolicy(
  'floating-ip-on-primary',
  "every floating IP of a pair is assigned to the primary node's server when created",
  (pair, report) => {
    const servers = pair.of(pair.provider === 'hcloud' ? HC.server : DO.droplet)
    const primaries = servers.filter((s) => isPrimary(s, pair.provider))
    if (primaries.length !== 1) {
      report(`${primaries.length} servers are marked primary (hapair-role), want one`, pair.component.urn)
      if (!primaries.length) return
    }
    const primary = primaries[0]
    if (pair.provider === 'hcloud') {
      const ips = pair.of(HC.floatingIp)
      const assignments = pair.of(HC.assignment)
      if (!ips.length) report('the pair has no floating IP', pair.component.urn)
      for (const ip of ips)
        if (!assignments.some((a) => refersTo(a, 'floatingIpId', ip) !== false)) report(`floating IP ${ip.name} is assigned to no server`, ip.urn)
      for (const a of assignments)
        if (refersTo(a, 'serverId', primary) === false)
          report(`${a.name} assigns its floating IP to another server than the primary's (${primary.name})`, a.urn)
    } else {
      const ips = pair.of(DO.reservedIp)
      if (!ips.length) report('the pair has no reserved IP', pair.component.urn)
      for (const ip of ips)
        if (refersTo(ip, 'dropletId', primary) === false)
          report(`reserved IP ${ip.name} is assigned to another droplet than the primary's (${primary.name})`, ip.urn)
    }
  },
)

/**
 * Node-to-node traffic stays on the pair's private network: every server is on it, and the
 * firewall lets no peer in by its public address (DigitalOcean's tag sources admit those).
 */
export const syncTrafficPrivate = stackPolicy(
  'sync-traffic-private',
  "the servers of a pair share the pair's private network (hcloud Network, DigitalOcean VPC) and the firewall admits the peers on no public address",
  (pair, report) => {
    const publicAddrs = new Set<string>()
    const add = (v: unknown) => typeof v === 'string' && publicAddrs.add(v.split('/')[0])
    if (pair.provider === 'hcloud') {
      const networks = pair.of(HC.network)
      if (networks.length !== 1) {
        report(`${networks.length} private networks in the pair, want one`, pair.component.urn)
        if (!networks.length) return
      }
      const net = networks[0]
      if (!pair.of(HC.subnet).some((s) => refersTo(s, 'networkId', net) !== false)) report(`network ${net.name} has no subnet`, net.urn)
      const attachments = pair.of(HC.attachment)
      for (const s of pair.of(HC.server)) {
        const on = attachments.some((a) => refersTo(a, 'serverId', s) !== false && refersTo(a, 'networkId', net) !== false)
        if (!on) report(`server ${s.name} is not attached to the pair's private network ${net.name}`, s.urn)
        add(known(() => s.props.ipv4Address))
        add(known(() => s.props.ipv6Network))
      }
      for (const ip of pair.of(HC.primaryIp)) add(known(() => ip.props.ipAddress))
    } else {
      const vpcs = pair.of(DO.vpc)
      if (vpcs.length !== 1) {
        report(`${vpcs.length} VPCs in the pair, want one`, pair.component.urn)
        if (!vpcs.length) return
      }
      for (const d of pair.of(DO.droplet)) {
        if (refersTo(d, 'vpcUuid', vpcs[0]) === false) report(`droplet ${d.name} is not in the pair's VPC ${vpcs[0].name}`, d.urn)
        add(known(() => d.props.ipv4Address))
        add(known(() => d.props.ipv6Address))
      }
    }
    for (const r of inbound(pair)) {
      if (r.byResource.length) report(`${r.label} admits ${r.byResource.join(', ')}: on their public addresses too (name the VPC's range)`, r.urn)
      const peers = r.sources.filter((s) => s !== undefined && publicAddrs.has(s.split('/')[0]))
      if (peers.length) report(`${r.label} admits the peers' public address${peers.length > 1 ? 'es' : ''} ${peers.join(', ')}`, r.urn)
    }
  },
)

export const policies: StackValidationPolicy[] = [sshNotOpenToWorld, pairInOneSpreadGroup, floatingIpOnPrimary, syncTrafficPrivate]
