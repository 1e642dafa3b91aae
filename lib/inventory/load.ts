// The one loader every playbook and every Pulumi stack uses: parse, validate, resolve.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { InputError } from '../errors.ts'
import { inventoryProblems, type Problem } from './validate.ts'
import type { Inventory, Pair, Node, SshSettings } from './schema.ts'

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

/** "at position 42" in a JSON.parse message, as line and column (1-based). */
function jsonWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message)
  const pos = m ? Number(m[1]) : /end of JSON input/.test(message) ? text.length : undefined
  if (pos === undefined) return ''
  const before = text.slice(0, pos).split('\n')
  return ` (line ${before.length}, column ${before[before.length - 1].length + 1})`
}

/** Parses text (JSON, or YAML for .yaml/.yml) and validates it; throws InputError listing every problem. */
export function parseInventory(text: string, file: string): LoadedInventory {
  const yaml = /\.ya?ml$/i.test(file)
  let data: unknown
  try {
    text = text.replace(/^\uFEFF/, '') // an editor's byte-order mark is not a syntax error
    data = yaml ? YAML.parse(text) : JSON.parse(text)
  } catch (e) {
    const first = String((e as Error)?.message ?? e).split('\n')[0].replace(/:$/, '')
    throw new InputError(`${file}: (root): not valid ${yaml ? 'YAML' : 'JSON'}: ${first}${yaml ? '' : jsonWhere(text, first)}`)
  }
  const problems = inventoryProblems(data)
  if (problems.length) {
    const lines = formatProblems(file, problems)
    throw new InputError(`${file}: invalid inventory (${lines.length} problem${lines.length > 1 ? 's' : ''})\n${lines.join('\n')}`, lines)
  }
  const abs = path.resolve(file)
  return { file: abs, dir: path.dirname(abs), data: data as Inventory }
}

export function loadInventory(file: string = DEFAULT_INVENTORY): LoadedInventory {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new InputError(`${file}: cannot read inventory: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
  }
  return parseInventory(text, file)
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

export type ResolvedSsh = Required<Pick<SshSettings, 'user' | 'port' | 'connectTimeoutMs' | 'commandTimeoutMs'>> & { keyFile?: string; knownHostsFile?: string }

/** SSH settings for a node: node overrides pair overrides inventory defaults; paths made absolute. */
export function sshSettings(inv: LoadedInventory, pair: Pair, node: Node): ResolvedSsh {
  const merged: SshSettings = { ...inv.data.defaults?.ssh, ...pair.ssh, ...node.ssh }
  const abs = (p?: string) => (p ? path.resolve(inv.dir, p) : undefined)
  return {
    user: merged.user ?? 'root',
    port: merged.port ?? 22,
    connectTimeoutMs: merged.connectTimeoutMs ?? 5000,
    commandTimeoutMs: merged.commandTimeoutMs ?? 30000,
    keyFile: abs(merged.keyFile),
    knownHostsFile: abs(merged.knownHostsFile),
  }
}

/** Directory on each node where hapair keeps its state (epoch, lock, degraded mark, sync times). */
export const stateDir = (pair: Pair) => pair.stateDir ?? `/var/lib/hapair/${pair.name}`
