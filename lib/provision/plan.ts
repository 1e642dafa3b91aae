// What a stack builds, decided from the inventory alone (no Pulumi here, so it is tested as
// plain data): which pairs, one server per node with its type/image/location, the SSH key (one
// to create, or one already in the project), the firewall rules, labels, and which floating IPs
// the primary gets.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.ts'
import { sshSettings, type LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { inboundRules, sshPorts, type InboundRule } from './firewall.ts'

export type Provider = 'hcloud' | 'digitalocean'
export type Provision = NonNullable<Pair['provision']>

export interface NodePlan {
  node: Node
  location: string
  serverType: string
  image: string
  primary: boolean
  /** The login user the playbooks use on it: cloud-init authorizes the peers' sync keys for this user. */
  sshUser: string
}
export interface FloatingIpPlan {
  name: string
  family: 'ipv4' | 'ipv6'
  prefix: number
}

export interface PairPlan {
  pair: Pair
  provision: Provision
  nodes: NodePlan[]
  /** The key to create in the project; absent when the inventory names one already there (existingSshKey). */
  sshPublicKey?: string
  existingSshKey?: { name?: string; id?: number }
  /** provision.tokenFile, absolute: the one token source of this provider's stack (validate makes every pair agree). */
  tokenFile?: string
  rules: InboundRule[]
  /** The nodes' SSH ports, as strings (firewall port specs). */
  sshPorts: string[]
  labels: Record<string, string>
  floatingIps: FloatingIpPlan[]
}

/** Names for the floating IPs: an existing entry of the provider keeps its name, so a re-import matches it. */
function floatingIpPlans(pair: Pair, provider: Provider): FloatingIpPlan[] {
  const existing = (pair.floatingIps ?? []).filter((f) => f.driver === provider)
  const named = (v6: boolean, dflt: string) => existing.find((f) => f.address.includes(':') === v6)?.name ?? dflt
  const out: FloatingIpPlan[] = [{ name: named(false, 'vip'), family: 'ipv4', prefix: 32 }]
  if (pair.provision!.floatingIpv6) out.push({ name: named(true, 'vip6'), family: 'ipv6', prefix: 64 })
  return out
}

function publicKey(inv: LoadedInventory, p: Provision, at: string): string {
  if (p.sshPublicKey) return p.sshPublicKey.trim()
  const file = path.resolve(inv.dir, p.sshPublicKeyFile!)
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (e) {
    throw new InputError(
      `${inv.file}: ${at}/sshPublicKeyFile: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    )
  }
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+|sk-\S+) [A-Za-z0-9+/=]+/.test(text)) {
    throw new InputError(`${inv.file}: ${at}/sshPublicKeyFile: ${file} is not an OpenSSH public key (a private key there would be sent to the provider)`)
  }
  return text
}

/** The pairs this provider's stack provisions; a stack with none is a configuration error. */
export function provisionPlan(inv: LoadedInventory, provider: Provider): PairPlan[] {
  const plans: PairPlan[] = []
  inv.data.pairs.forEach((pair, pi) => {
    const p = pair.provision
    if (!p || p.provider !== provider) return
    const at = `pairs/${pi}/provision`
    plans.push({
      pair,
      provision: p,
      nodes: pair.nodes.map((node) => ({
        node,
        location: node.provision?.location ?? p.location,
        serverType: node.provision?.serverType ?? p.serverType,
        image: node.provision?.image ?? p.image,
        primary: node.name === pair.primary,
        sshUser: sshSettings(inv, pair, node).user,
      })),
      ...(p.sshKey ? { existingSshKey: { ...p.sshKey } } : { sshPublicKey: publicKey(inv, p, at) }),
      ...(p.tokenFile ? { tokenFile: path.resolve(inv.dir, p.tokenFile) } : {}),
      rules: inboundRules(inv, pair),
      sshPorts: sshPorts(inv, pair).map(String),
      labels: { ...p.labels, 'hapair-pair': pair.name, 'managed-by': 'hapair' },
      floatingIps: floatingIpPlans(pair, provider),
    })
  })
  if (plans.length === 0) {
    const others = inv.data.pairs.filter((x) => x.provision).map((x) => `${x.name} (${x.provision!.provider})`)
    throw new InputError(`${inv.file}: no pair has a provision block with provider "${provider}"${others.length ? ` (found: ${others.join(', ')})` : ''}`)
  }
  return plans
}
