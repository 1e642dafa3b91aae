// Stack outputs -> resolved inventory: the servers' addresses and provider ids, the floating
// IPs with their ids, and fencing through the same provider. The result goes through the same
// loader and validation as any inventory, so what is written is what the playbooks accept.
// The host keys in the outputs are the ones the stack generated and cloud-init installed: they
// are pinned in the controller's known_hosts from there, never from what a server presents.
import path from 'node:path'
import YAML from 'yaml'
import { InputError, RefusedError } from '../errors.ts'
import { isYamlFile, parseInventory, readInventoryText, sshSettings, type LoadedInventory } from '../inventory/load.ts'
import { jsonApply, yamlApply } from '../inventory/text-edit.ts'
import { decodeUtf8 } from '../inventory/read-file.ts'
import type { FloatingIp, Inventory, Pair } from '../inventory/schema.ts'
import { hostField, knownHostsEntries } from '../known-hosts.ts'
import { hostFieldsFor, readIfPresent, replaceHostEntries } from '../known-hosts-edit.ts'
import { keyText, NODE_KNOWN_HOSTS_FILE, nodeKnownHostsText, parsePublicKey, SYNC_KEY_FILE, syncPaths } from './node-keys.ts'
import type { StackOutputs, StackPairOutput } from './outputs.ts'

export interface ImportResult {
  /** The resolved inventory, already validated. */
  inventory: LoadedInventory
  /** Its text: the source inventory's own with only the changed values edited (JSON or YAML), so a re-import diffs as what the stack changed. */
  text: string
  /** One line per change, for the person running the import. */
  changes: string[]
  warnings: string[]
  /** The controller's known_hosts files, edited to pin every node's generated host key (written by the playbook with --out). */
  knownHosts: KnownHostsEdit[]
  /** What each node's sync.nodeKnownHostsFile holds: cloud-init wrote exactly this at first boot. */
  nodeKnownHosts: { pair: string; node: string; file: string; text: string }[]
}

export interface KnownHostsEdit {
  file: string
  /** The bytes the edit was computed from (undefined: no file yet); the write refuses if they changed. */
  before: Buffer | undefined
  text: string
  changed: boolean
  pins: { pair: string; node: string; host: string; fingerprint: string }[]
  removed: string[]
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

function importPair(pair: Pair, out: StackPairOutput, where: string, changes: string[], warnings: string[]): void {
  const provider = out.provider
  if (pair.provision && pair.provision.provider !== provider) {
    throw new InputError(`${where}: provider is "${provider}" but the inventory's pair ${pair.name} has provision.provider "${pair.provision.provider}"`)
  }
  const tokenFile = pair.provision?.tokenFile
  const missing = pair.nodes.filter((n) => !out.nodes[n.name]).map((n) => n.name)
  if (missing.length)
    throw new InputError(
      `${where}/nodes: no output for node${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of pair ${pair.name} (stack not up to date? run pulumi up)`,
    )
  const extra = Object.keys(out.nodes).filter((n) => !pair.nodes.some((x) => x.name === n))
  if (extra.length)
    throw new InputError(`${where}/nodes: ${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not a node of pair ${pair.name} in the inventory`)

  for (const node of pair.nodes) {
    const o = out.nodes[node.name]
    const at = `${pair.name}/${node.name}`
    if (node.address !== o.ipv4) changes.push(`${at}: address ${node.address ?? '(none)'} -> ${o.ipv4}`)
    node.address = o.ipv4
    if (o.privateIpv4 && node.privateAddress !== o.privateIpv4) {
      changes.push(`${at}: privateAddress ${node.privateAddress ?? '(none)'} -> ${o.privateIpv4}`)
      node.privateAddress = o.privateIpv4
    }
    if (o.ipv6 && node.address6 !== o.ipv6) {
      changes.push(`${at}: address6 ${node.address6 ?? '(none)'} -> ${o.ipv6}`)
      node.address6 = o.ipv6
    }
    if (provider === 'hcloud') {
      if (node.hcloud?.serverId !== o.id) changes.push(`${at}: hcloud.serverId ${node.hcloud?.serverId ?? '(none)'} -> ${o.id}`)
      node.hcloud = { serverId: o.id }
    } else {
      if (node.digitalocean?.dropletId !== o.id) changes.push(`${at}: digitalocean.dropletId ${node.digitalocean?.dropletId ?? '(none)'} -> ${o.id}`)
      node.digitalocean = { dropletId: o.id }
    }
  }

  // The node-to-node hop: the files cloud-init wrote (node-keys.ts), where the inventory did not name its own.
  const outs = pair.nodes.map((n) => out.nodes[n.name])
  if (pair.sync && outs.every((o) => o.hostKey) && !pair.sync.nodeKnownHostsFile) {
    pair.sync.nodeKnownHostsFile = NODE_KNOWN_HOSTS_FILE
    changes.push(`${pair.name}: sync.nodeKnownHostsFile (none) -> ${NODE_KNOWN_HOSTS_FILE}`)
  }
  if (pair.sync && outs.every((o) => o.syncKey) && !pair.sync.nodeKeyFile) {
    pair.sync.nodeKeyFile = SYNC_KEY_FILE
    changes.push(`${pair.name}: sync.nodeKeyFile (none) -> ${SYNC_KEY_FILE}`)
  }
  const noKey = pair.nodes.filter((n) => !out.nodes[n.name].hostKey).map((n) => n.name)
  if (noKey.length)
    warnings.push(
      `${pair.name}: no generated host key in the stack output for ${noKey.join(', ')} (a stack from before host keys were generated): pin ${noKey.length > 1 ? 'them' : 'it'} with playbooks/hostkeys.ts pin NODE --fingerprint SHA256:… read on the console`,
    )

  // Floating IPs of this provider are the stack's: matched by name (then address), kept fields
  // (interface, prefix, credentials) survive; those the stack no longer has are dropped.
  const before = pair.floatingIps ?? []
  const kept = before.filter((f) => f.driver !== provider)
  const ours = before.filter((f) => f.driver === provider)
  const next: FloatingIp[] = out.floatingIps.map((o) => {
    const old = ours.find((f) => f.name === o.name) ?? ours.find((f) => f.address === o.address)
    const creds = { ...(old?.[provider] ?? {}), ...(!old?.[provider]?.tokenFile && tokenFile ? { tokenFile } : {}) }
    const f: FloatingIp = {
      ...old,
      name: o.name,
      address: o.address,
      driver: provider,
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
  for (const f of ours)
    if (!next.some((n) => n.name === f.name)) changes.push(`${pair.name}: floating IP ${f.name ?? f.address} removed (not in the stack any more)`)
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
    if (!pair)
      throw new InputError(
        `${outputsFile}: pairs/${name}: the inventory ${inv.file} has no pair "${name}" (pairs: ${data.pairs.map((p) => p.name).join(', ')})`,
      )
    importPair(pair, outputs.pairs[name], `${outputsFile}: pairs/${name}`, changes, warnings)
  }
  for (const p of data.pairs) {
    if (p.provision && !names.includes(p.name)) warnings.push(`${p.name}: not in this stack's outputs: left unchanged`)
  }
  const text = render(inv, data, outFile)
  const inventory = parseInventory(text, outFile)
  const knownHosts = controllerPins(inventory, outputs, outputsFile, changes)
  const nodeKnownHosts = names.flatMap((name) => {
    const pair = inventory.data.pairs.find((p) => p.name === name)!
    const nodes = outputs.pairs[name].nodes
    if (!pair.nodes.every((n) => nodes[n.name].hostKey)) return []
    return pair.nodes.map((n) => ({
      pair: name,
      node: n.name,
      file: syncPaths(pair).knownHostsFile,
      text: nodeKnownHostsText(
        pair,
        pair.nodes.filter((m) => m !== n).map((m) => ({ name: m.name, hostPublicKey: nodes[m.name].hostKey!.publicKey })),
      ),
    }))
  })
  return { inventory, text, changes, warnings, knownHosts, nodeKnownHosts }
}

/**
 * Each node's generated host key replaces whatever the controller's known_hosts said for its
 * address and name (keyed by the resolved inventory's ssh settings). A key the file marks
 * @revoked is refused (exit 3): nothing is written.
 */
function controllerPins(inv: LoadedInventory, outputs: StackOutputs, outputsFile: string, changes: string[]): KnownHostsEdit[] {
  const edits = new Map<string, KnownHostsEdit>()
  for (const [name, out] of Object.entries(outputs.pairs)) {
    const pi = inv.data.pairs.findIndex((p) => p.name === name)
    const pair = inv.data.pairs[pi]
    pair.nodes.forEach((node, ni) => {
      const o = out.nodes[node.name]
      if (!o.hostKey) return
      const ssh = sshSettings(inv, pair, node)
      if (!ssh.knownHostsFile) {
        throw new InputError(
          `${inv.file}: pairs/${pi}/nodes/${ni}/ssh/knownHostsFile: not set (nor defaults/ssh/knownHostsFile or pairs/${pi}/ssh/knownHostsFile): import-stack has no controller known_hosts to pin ${node.name}'s host key in`,
        )
      }
      let edit = edits.get(ssh.knownHostsFile)
      if (!edit) {
        const before = readIfPresent(ssh.knownHostsFile)
        const text = before === undefined ? '' : decodeUtf8(before, `knownHostsFile ${ssh.knownHostsFile}`)
        edit = { file: ssh.knownHostsFile, before, text, changed: false, pins: [], removed: [] }
        edits.set(ssh.knownHostsFile, edit)
      }
      const key = parsePublicKey(o.hostKey.publicKey, `${outputsFile}: pairs/${name}/nodes/${node.name}/hostKey/publicKey`)
      // Revoked for any host is revoked: the line's host field does not matter.
      if (knownHostsEntries(edit.text).some((e) => e.marker === '@revoked' && e.blob?.equals(key.blob))) {
        throw new RefusedError(
          `${pair.name}/${node.name}: the stack's host key ${key.fingerprint} is marked @revoked in ${ssh.knownHostsFile}: refusing to pin it; nothing was written (replace the server's key, or remove the @revoked line if it was a mistake)`,
        )
      }
      const host = hostField(node.address, ssh.port)
      const r = replaceHostEntries(edit.text, hostFieldsFor([node.address, node.name], ssh.port), [`${host} ${keyText(key)}`], { keepRevoked: true })
      if (r.changed)
        changes.push(
          `${pair.name}/${node.name}: host key ${key.fingerprint} pinned for ${host} in ${path.relative(inv.dir, ssh.knownHostsFile) || ssh.knownHostsFile}`,
        )
      edit.text = r.text
      edit.changed ||= r.changed
      edit.removed.push(...r.removed)
      edit.pins.push({ pair: pair.name, node: node.name, host, fingerprint: key.fingerprint })
    })
  }
  return [...edits.values()]
}

/**
 * The source inventory's text edited value by value into data, so the author's layout (comments,
 * flow mappings, one-line objects, indentation, line endings, key order) survives and only what
 * the stack changed differs. Written fresh when there is no source of the same format to edit
 * (a JSON inventory written out as YAML or the other way round, an unreadable file).
 */
function render(inv: LoadedInventory, data: Inventory, outFile: string): string {
  const yaml = isYamlFile(outFile)
  if (yaml !== isYamlFile(inv.file)) return serialise(data, outFile)
  let source: string
  try {
    source = readInventoryText(inv.file)
  } catch {
    return serialise(data, outFile)
  }
  const bom = source.startsWith('\uFEFF') ? '\uFEFF' : ''
  const body = source.slice(bom.length)
  return bom + (yaml ? yamlApply(body, YAML.parse(body), data) : jsonApply(body, JSON.parse(body), data))
}

/** JSON with two-space indent, or YAML for .yaml/.yml files. */
export function serialise(data: Inventory, file: string): string {
  return isYamlFile(file) ? YAML.stringify(data) : JSON.stringify(data, null, 2) + '\n'
}
