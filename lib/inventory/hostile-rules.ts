// Semantic rules against values that validate as strings and addresses but would hurt a node:
// a sync item over a system directory or over hapair's own state and keys, a state directory that
// is not a directory of its own, a floating IP that is its subnet's network or broadcast address.
import { hasDotDot, normalPath, within } from '../paths.ts'
import { inSubnet, reservedInSubnet } from './address.ts'
import type { Inventory, Pair } from './schema.ts'
import type { Problem } from './validate.ts'

/** Directories whose contents belong to the system: syncing (or mirror-deleting) them breaks the node. */
export const SYSTEM_DIRS = [
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib64',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/sys',
  '/tmp',
  '/usr',
  '/usr/local',
  '/var',
  '/var/lib',
  '/var/log',
]

export const isSystemDir = (p: string) => SYSTEM_DIRS.includes(normalPath(p))

/** The state directory holds the epoch and the lock: it must be a directory of hapair's own. */
export function stateDirProblems(pair: Pair, at: string, out: Problem[]) {
  const d = pair.stateDir
  if (d === undefined) return
  if (hasDotDot(d)) out.push({ path: `${at}/stateDir`, message: `must not contain ".." (got ${JSON.stringify(d)})` })
  else if (isSystemDir(d))
    out.push({
      path: `${at}/stateDir`,
      message: `must be a directory of its own, not the system directory ${normalPath(d)} (e.g. /var/lib/hapair/${pair.name})`,
    })
}

/** A sync item must not be a system directory, nor hold hapair's state or the node-to-node key. */
export function syncItemPathProblems(pair: Pair, stateDir: string, at: string, out: Problem[]) {
  const own: [string, string | undefined][] = [
    ["the pair's state directory", stateDir],
    ['sync.nodeKeyFile', pair.sync?.nodeKeyFile],
    ['sync.nodeKnownHostsFile', pair.sync?.nodeKnownHostsFile],
  ]
  pair.sync?.items.forEach((it, ii) => {
    const p = it.path
    if (hasDotDot(p) || normalPath(p) === '/') return // reported by the item rules
    const iat = `${at}/sync/items/${ii}/path`
    if (isSystemDir(p)) {
      out.push({
        path: iat,
        message: `must not be the system directory ${normalPath(p)}: a sync would overwrite the target's own files (got ${JSON.stringify(p)})`,
      })
      return
    }
    for (const [what, file] of own) {
      if (file && !hasDotDot(file) && within(file, p))
        out.push({ path: iat, message: `contains ${what} ${file}: a sync would overwrite it with the other node's (got ${JSON.stringify(p)})` })
    }
  })
}

/** A host address only: not the network or broadcast address of its own prefix, the pair's networks or the lab subnet. */
export function floatingIpReservedProblems(pair: Pair, at: string, labSubnet: string | undefined, out: Problem[]) {
  pair.floatingIps?.forEach((f, fi) => {
    if (f.address.includes(':')) return
    const subnets: [string, string][] = [
      ...(f.prefix !== undefined ? [[`${f.address}/${f.prefix}`, `its subnet (prefix /${f.prefix})`] as [string, string]] : []),
      ...(pair.networks ?? []).map((n): [string, string] => [n.cidr, `network "${n.name}" (${n.cidr})`]),
      ...(labSubnet ? [[labSubnet, `the lab subnet ${labSubnet}`] as [string, string]] : []),
    ]
    const bad = subnets.find(([cidr]) => inSubnet(f.address, cidr) && reservedInSubnet(f.address, cidr))
    if (bad)
      out.push({
        path: `${at}/floatingIps/${fi}/address`,
        message: `${f.address} is the network or broadcast address of ${bad[1]}; a floating IP must be a host address`,
      })
  })
}

/** The lab fencing driver powers off lab namespaces: without a lab block there is nothing it could fence. */
export function labFencingProblems(inv: Inventory, out: Problem[]) {
  if (inv.lab) return
  inv.pairs.forEach((p, pi) => {
    if (p.fencing?.driver === 'lab')
      out.push({
        path: `pairs/${pi}/fencing/driver`,
        message: 'driver "lab" needs the inventory\'s "lab" block (it powers off lab nodes); use the provider\'s driver or "none"',
      })
  })
}
