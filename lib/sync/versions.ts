// What each node says about itself before anything moves: its software version, each item's
// data version (read the way the inventory says: a file's first line or a command's output),
// whether it has rsync, its node-to-node pins, and whether a failover holds the pair's lock.
// One round trip per node.
import type { Pair, SyncItem, VersionSource } from '../inventory/schema.ts'
import { lockOwnerFile } from '../lock.ts'
import { sh } from '../shell.ts'
import type { NodeSession } from '../ssh.ts'
import type { NodeFacts, VersionValue } from './plan.ts'

const RS = '\x1e',
  US = '\x1f'

export interface ProbeKey {
  key: string
  source: VersionSource
}

/** The keys to ask a node for: software, then one per item that declares a data version. */
export function probeKeys(pair: Pair, items: SyncItem[]): ProbeKey[] {
  const keys: ProbeKey[] = []
  if (pair.software) keys.push({ key: 'software', source: pair.software })
  for (const i of items) if (i.version) keys.push({ key: `item:${i.name}`, source: i.version })
  return keys
}

/**
 * A fixed script; every inventory value in it is quoted by the sh tag. With knownHostsFile, the
 * node's pins come back too (the hop's pin check then costs no extra round trip).
 */
export function probeScript(keys: ProbeKey[], knownHostsFile?: string, ownerFile?: string): string {
  const parts = keys.map(({ key, source }) =>
    source.file !== undefined
      ? sh`if [ -r ${source.file} ]; then v=$(head -n 1 ${source.file}); rc=$?; else v=${`cannot read ${source.file}`}; rc=1; fi; printf '%s\\036%s\\036%s\\037' ${key} "$rc" "$v"`
      : sh`v=$(sh -c ${source.command ?? 'false'} 2>/dev/null </dev/null); rc=$?; printf '%s\\036%s\\036%s\\037' ${key} "$rc" "$v"`,
  )
  parts.push(`command -v rsync >/dev/null 2>&1; printf 'rsync\\036%s\\036\\037' "$?"`)
  if (knownHostsFile) parts.push(sh`printf 'known_hosts\\0360\\036'; cat ${knownHostsFile} 2>/dev/null; printf '\\037'`)
  if (ownerFile) parts.push(sh`if [ -f ${ownerFile} ]; then printf 'lock\\0360\\036'; cat ${ownerFile}; printf '\\037'; fi`)
  return parts.join('\n')
}

/** Turns the probe's output into facts; a key missing from the output reads as an error. */
export function parseNodeFacts(out: string, keys: ProbeKey[]): NodeFacts {
  const got = new Map<string, { rc: number; value: string }>()
  for (const rec of out.split(US)) {
    const [key, rc, value] = rec.replace(/^\n+/, '').split(RS)
    if (value === undefined) continue
    got.set(key, { rc: Number(rc), value })
  }
  const read = (k: ProbeKey): VersionValue => {
    const r = got.get(k.key)
    if (!r) return { error: 'not reported' }
    const first = r.value.split('\n')[0].trim()
    const how = k.source.file !== undefined ? k.source.file : `command ${JSON.stringify(k.source.command)}`
    if (r.rc !== 0) return { error: k.source.file !== undefined ? r.value.trim() || `${how}: exit ${r.rc}` : `${how} exited ${r.rc}` }
    if (!first) return { error: `${how} is empty` }
    return { value: first }
  }
  const facts: NodeFacts = { items: {}, rsync: got.get('rsync')?.rc === 0, knownHosts: got.get('known_hosts')?.value, lock: got.get('lock')?.value }
  for (const k of keys) {
    if (k.key === 'software') facts.software = read(k)
    else facts.items[k.key.slice('item:'.length)] = read(k)
  }
  return facts
}

export async function probeNode(s: NodeSession, pair: Pair, items: SyncItem[]): Promise<NodeFacts> {
  const keys = probeKeys(pair, items)
  const r = await s.run({ script: probeScript(keys, pair.sync?.nodeKnownHostsFile, lockOwnerFile(pair)) }, { check: false, timeoutMs: 20000 })
  return parseNodeFacts(r.stdout, keys)
}
