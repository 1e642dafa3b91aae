// Stack outputs -> resolved inventory: the servers' addresses and provider ids, the floating
// IPs with their ids, and fencing through the same provider. The result goes through the same
// loader and validation as any inventory, so what is written is what the playbooks accept.
import path from 'node:path'
import YAML from 'yaml'
import { InputError } from '../errors.ts'
import { parseInventory, type LoadedInventory } from '../inventory/load.ts'
import type { FloatingIp, Inventory, Pair } from '../inventory/schema.ts'
import type { StackOutputs, StackPairOutput } from './outputs.ts'

export interface ImportResult {
  /** The resolved inventory, already validated. */
  inventory: LoadedInventory
  /** One line per change, for the person running the import. */
  changes: string[]
  warnings: string[]
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

function importPair(pair: Pair, out: StackPairOutput, where: string, changes: string[], warnings: string[]): void {
  const provider = out.provider
  if (pair.provision && pair.provision.provider !== provider) {
    throw new InputError(`${where}: provider is "${provider}" but the inventory's pair ${pair.name} has provision.provider "${pair.provision.provider}"`)
  }
  const tokenFile = pair.provision?.tokenFile
  const missing = pair.nodes.filter((n) => !out.nodes[n.name]).map((n) => n.name)
  if (missing.length) throw new InputError(`${where}/nodes: no output for node${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of pair ${pair.name} (stack not up to date? run pulumi up)`)
  const extra = Object.keys(out.nodes).filter((n) => !pair.nodes.some((x) => x.name === n))
  if (extra.length) throw new InputError(`${where}/nodes: ${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not a node of pair ${pair.name} in the inventory`)

  for (const node of pair.nodes) {
    const o = out.nodes[node.name]
    const at = `${pair.name}/${node.name}`
    if (node.address !== o.ipv4) changes.push(`${at}: address ${node.address} -> ${o.ipv4}`)
    node.address = o.ipv4
    if (o.ipv6 && node.address6 !== o.ipv6) { changes.push(`${at}: address6 ${node.address6 ?? '(none)'} -> ${o.ipv6}`); node.address6 = o.ipv6 }
    if (provider === 'hcloud') {
      if (node.hcloud?.serverId !== o.id) changes.push(`${at}: hcloud.serverId ${node.hcloud?.serverId ?? '(none)'} -> ${o.id}`)
      node.hcloud = { serverId: o.id }
    } else {
      if (node.digitalocean?.dropletId !== o.id) changes.push(`${at}: digitalocean.dropletId ${node.digitalocean?.dropletId ?? '(none)'} -> ${o.id}`)
      node.digitalocean = { dropletId: o.id }
    }
  }

  // Floating IPs of this provider are the stack's: matched by name (then address), kept fields
  // (interface, prefix, credentials) survive; those the stack no longer has are dropped.
  const before = pair.floatingIps ?? []
  const kept = before.filter((f) => f.driver !== provider)
  const ours = before.filter((f) => f.driver === provider)
  const next: FloatingIp[] = out.floatingIps.map((o) => {
    const old = ours.find((f) => f.name === o.name) ?? ours.find((f) => f.address === o.address)
    const creds = { ...(old?.[provider] ?? {}), ...(!old?.[provider]?.tokenFile && tokenFile ? { tokenFile } : {}) }
    const f: FloatingIp = {
      ...old, name: o.name, address: o.address, driver: provider,
      ...(o.family === 'ipv6' ? { prefix: old?.prefix ?? 64 } : {}),
    }
    if (provider === 'hcloud') {
      if (!o.id) throw new InputError(`${where}/floatingIps: ${o.name} has no id (an hcloud floating IP needs one)`)
      f.hcloud = { ...creds, floatingIpId: o.id }
    } else if (Object.keys(creds).length) f.digitalocean = creds
    const was = old ? `${old.address}${provider === 'hcloud' && old.hcloud ? ` (id ${old.hcloud.floatingIpId})` : ''}` : '(new)'
    const now = `${o.address}${o.id ? ` (id ${o.id})` : ''}`
    if (was !== now) changes.push(`${pair.name}: floating IP ${o.name}: ${was} -> ${now}`)
    return f
  })
  for (const f of ours) if (!next.some((n) => n.name === f.name)) changes.push(`${pair.name}: floating IP ${f.name ?? f.address} removed (not in the stack any more)`)
  pair.floatingIps = [...next, ...kept]

  // Fencing: the provider's power switch, unless the inventory deliberately says "none".
  const fd = pair.fencing?.driver
  if (fd === 'none') {
    warnings.push(`${pair.name}: fencing is "none": failover cannot power off an unreachable node (set fencing.driver "${provider}" to let it)`)
  } else if (fd !== provider) {
    if (fd) warnings.push(`${pair.name}: fencing driver "${fd}" replaced by "${provider}"`)
    changes.push(`${pair.name}: fencing ${fd ?? '(none)'} -> ${provider}`)
    pair.fencing = { driver: provider, ...(tokenFile ? { [provider]: { tokenFile } } : {}) }
  }
}

/** Merges stack outputs into a copy of the inventory and validates the result. */
export function importStack(inv: LoadedInventory, outputs: StackOutputs, outputsFile: string, outFile: string = inv.file): ImportResult {
  // Relative paths in an inventory (keys, known_hosts, token files) resolve from its directory.
  if (path.dirname(path.resolve(outFile)) !== inv.dir) {
    throw new InputError(`${outFile}: must be in the inventory's directory ${inv.dir}: the relative paths in it resolve from there`)
  }
  const data: Inventory = clone(inv.data)
  const changes: string[] = []
  const warnings: string[] = []
  const names = Object.keys(outputs.pairs)
  if (names.length === 0) throw new InputError(`${outputsFile}: pairs: the stack has no pairs (did pulumi up run with the right inventory config?)`)
  for (const name of names) {
    const pair = data.pairs.find((p) => p.name === name)
    if (!pair) throw new InputError(`${outputsFile}: pairs/${name}: the inventory ${inv.file} has no pair "${name}" (pairs: ${data.pairs.map((p) => p.name).join(', ')})`)
    importPair(pair, outputs.pairs[name], `${outputsFile}: pairs/${name}`, changes, warnings)
  }
  for (const p of data.pairs) {
    if (p.provision && !names.includes(p.name)) warnings.push(`${p.name}: not in this stack's outputs: left unchanged`)
  }
  return { inventory: parseInventory(serialise(data, outFile), outFile), changes, warnings }
}

/** JSON with two-space indent, or YAML for .yaml/.yml files. */
export function serialise(data: Inventory, file: string): string {
  return /\.ya?ml$/i.test(file) ? YAML.stringify(data) : JSON.stringify(data, null, 2) + '\n'
}
