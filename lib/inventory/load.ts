// The one loader every playbook and every Pulumi stack uses: parse, validate, resolve.
import path from 'node:path'
import { InputError } from '../errors.ts'
import { inventoryProblems, type Problem } from './validate.ts'
import { parseJson, parseYaml } from './parse.ts'
import { MAX_BYTES, decodeUtf8, readRegularFile } from './read-file.ts'
import type { Inventory, Pair, Node, SshSettings, UnresolvedNode } from './schema.ts'

export const DEFAULT_INVENTORY = 'inventory/lab.json'

export interface LoadedInventory {
  /** Absolute path of the file it came from; relative paths inside resolve from its directory. */
  file: string
  dir: string
  data: Inventory
}

export function formatProblems(file: string, problems: Problem[]): string[] {
  return problems.map((p) => `${file}: ${p.path}: ${p.message}`)
}

/** Inventories named .yaml/.yml are YAML; every other name is JSON. */
export const isYamlFile = (file: string) => /\.ya?ml$/i.test(file)

/** Parses text (JSON, or YAML for .yaml/.yml) and validates it; throws InputError listing every problem. */
export function parseInventory(text: string, file: string): LoadedInventory {
  const yaml = isYamlFile(file)
  text = text.replace(/^\uFEFF/, '') // an editor's byte-order mark is not a syntax error
  const data = yaml ? parseYaml(text, file) : parseJson(text, file)
  const problems = inventoryProblems(data)
  if (problems.length) {
    const lines = formatProblems(file, problems)
    throw new InputError(`${file}: invalid inventory (${lines.length} problem${lines.length > 1 ? 's' : ''})\n${lines.join('\n')}`, lines)
  }
  const abs = path.resolve(file)
  return { file: abs, dir: path.dirname(abs), data: data as Inventory }
}

/** The inventory file's text: a regular file, bounded in size, strict UTF-8 (see read-file.ts). */
export function readInventoryText(file: string): string {
  const bytes = readRegularFile(file, { label: `${file}: cannot read inventory`, maxBytes: MAX_BYTES.inventory })
  // Bad bytes are a problem in the file's content, located like the others.
  return decodeUtf8(bytes, `${file}: (root)`)
}

export function loadInventory(file: string = DEFAULT_INVENTORY): LoadedInventory {
  return parseInventory(readInventoryText(file), file)
}

/**
 * One line per node whose address is not known yet (a provisioned pair before import-stack):
 * what a playbook that reaches nodes refuses (exit 2) before it does anything.
 */
export function addressProblems(inv: LoadedInventory, shown: string = inv.file): string[] {
  return inv.data.pairs.flatMap((p, pi) =>
    p.nodes.flatMap((n: UnresolvedNode, ni) =>
      n.address === undefined
        ? [
            `${shown}: pairs/${pi}/nodes/${ni}/address: not known yet for node ${n.name}: pair ${p.name} is provisioned by its stack; run pulumi up, then playbooks/import-stack.ts, which writes it`,
          ]
        : [],
    ),
  )
}

export function requireAddresses(inv: LoadedInventory, shown?: string): LoadedInventory {
  const lines = addressProblems(inv, shown)
  if (lines.length)
    throw new InputError(`${shown ?? inv.file}: ${lines.length} node address${lines.length > 1 ? 'es' : ''} not imported yet\n${lines.join('\n')}`, lines)
  return inv
}

export function findPair(inv: LoadedInventory, name?: string): Pair[] {
  if (!name) return inv.data.pairs
  const p = inv.data.pairs.find((x) => x.name === name)
  if (!p) throw new InputError(`${inv.file}: no pair named "${name}" (pairs: ${inv.data.pairs.map((x) => x.name).join(', ')})`)
  return [p]
}

export function findNode(pair: Pair, name: string): Node {
  const n = pair.nodes.find((x) => x.name === name)
  if (!n) throw new InputError(`pair ${pair.name} has no node "${name}" (nodes: ${pair.nodes.map((x) => x.name).join(', ')})`)
  return n
}

/** Looks a node up by name across all pairs. */
export function nodeByName(inv: LoadedInventory, name: string): { pair: Pair; node: Node } {
  for (const pair of inv.data.pairs) {
    const node = pair.nodes.find((n) => n.name === name)
    if (node) return { pair, node }
  }
  throw new InputError(`${inv.file}: no node named "${name}"`)
}

/** A bastion with every default filled in: the node's user and key unless it names its own. */
export interface ResolvedHop {
  /** What errors call it: its name, else its address. */
  label: string
  name?: string
  address: string
  port: number
  user: string
  keyFile?: string
}

export type ResolvedSsh = Required<Pick<SshSettings, 'user' | 'port' | 'connectTimeoutMs' | 'commandTimeoutMs' | 'become'>> & {
  keyFile?: string
  knownHostsFile?: string
  /** Bastions, first hop first; empty: the controller connects directly. */
  jump: ResolvedHop[]
}

/** SSH settings for a node: node overrides pair overrides inventory defaults; paths made absolute. */
export function sshSettings(inv: LoadedInventory, pair: Pair, node: Node): ResolvedSsh {
  const merged: SshSettings = { ...inv.data.defaults?.ssh, ...pair.ssh, ...node.ssh }
  const abs = (p?: string) => (p ? path.resolve(inv.dir, p) : undefined)
  const user = merged.user ?? 'root'
  const keyFile = abs(merged.keyFile)
  return {
    user,
    port: merged.port ?? 22,
    become: merged.become ?? 'none',
    connectTimeoutMs: merged.connectTimeoutMs ?? 5000,
    commandTimeoutMs: merged.commandTimeoutMs ?? 30000,
    keyFile,
    knownHostsFile: abs(merged.knownHostsFile),
    // The list is replaced, not merged, level by level: a node's [] means "this one is direct".
    jump: (merged.jump ?? []).map((h) => ({
      label: h.name ?? h.address,
      name: h.name,
      address: h.address,
      port: h.port ?? 22,
      user: h.user ?? user,
      keyFile: h.keyFile ? abs(h.keyFile) : keyFile,
    })),
  }
}

/** Directory on each node where hapair keeps its state (epoch, lock, degraded mark, sync times). */
export const stateDir = (pair: Pair) => pair.stateDir ?? `/var/lib/hapair/${pair.name}`
