// Pure derivation of every name and address the lab uses, from the inventory alone: `down`
// and `status` must find exactly what `up` made, and tests check the rules without root.
import { createHash } from 'node:crypto'
import path from 'node:path'
import { InputError } from '../errors.ts'
import { sshSettings, type LoadedInventory, type ResolvedSsh } from '../inventory/load.ts'
import type { LoginUser } from './login-user.ts'
import type { Service } from '../inventory/schema.ts'

export const BRIDGE = 'br0'
/** Linux IFNAMSIZ - 1. */
export const MAX_IFNAME = 15

export function ipToInt(a: string): number {
  const parts = a.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new InputError(`not an IPv4 address: "${a}"`)
  return parts.reduce((n, o) => n * 256 + Number(o), 0)
}
export const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')

export interface Cidr {
  base: number
  prefix: number
}
/** "a.b.c.d/n" or a bare address (= /32); the base is masked to the network. */
export function parseCidr(s: string): Cidr {
  const [addr, bits] = s.split('/')
  const prefix = bits === undefined ? 32 : Number(bits)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new InputError(`not an IPv4 prefix: "${s}"`)
  return { base: (ipToInt(addr) & maskOf(prefix)) >>> 0, prefix }
}
const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

/** Two IPv4 networks overlap when the shorter prefix's network contains the other's base. */
export function cidrOverlap(a: string, b: string): boolean {
  const x = parseCidr(a)
  const y = parseCidr(b)
  const p = Math.min(x.prefix, y.prefix)
  return (x.base & maskOf(p)) >>> 0 === (y.base & maskOf(p)) >>> 0
}

/** Interface names are limited to 15 bytes, lab names are not: a short stable hash keeps them apart. */
export const shortId = (lab: string) => createHash('sha1').update(lab).digest('hex').slice(0, 6)

export const nsPrefix = (lab: string) => `hp-${lab}-`
export const bridgeNs = (lab: string) => `hp-${lab}-br`
export const nodeNs = (lab: string, node: string) => `hp-${lab}-${node}`
export const rootVeth = (lab: string) => `hp${shortId(lab)}c`
export const bridgePeer = (lab: string) => `hp${shortId(lab)}cp`
export const nodePort = (lab: string, index: number) => `hp${shortId(lab)}n${index}`

export interface ServicePlan {
  name: string
  singleton: boolean
  http: number[]
  tcp: number[]
  /** Real PostgreSQL (lib/lab/postgres.ts), not the lab's server. */ postgresql?: boolean
}
export interface NodePlan {
  name: string
  pair: string
  index: number
  primary: boolean
  ns: string
  /** Bridge-side end of the node's cable: taking it down is `isolate`. */
  port: string
  iface: string
  address: string
  /** A second address on the same link, standing for the node's private network address: the peers reach it there. */
  privateAddress?: string
  prefix: number
  sshPort: number
  /** Host directory holding this node's /srv, /var/backups, /var/log and /var/lib. */
  root: string
  services: ServicePlan[]
  /** The inventory logs in as this non-root user (ssh.user): the lab creates it inside the node. */
  login?: LoginUser
}
export interface FloatingPlan {
  name?: string
  pair: string
  address: string
  prefix: number
  holder: string
  iface: string
}
export interface LabPlan {
  lab: string
  id: string
  subnet: string
  prefix: number
  controller: string
  rootVeth: string
  bridgePeer: string
  bridgeNs: string
  stateDir: string
  nodes: NodePlan[]
  /** lab.bastions: hosts with sshd and nothing else, for ssh.jump; the same shape as a node (no pair, no services). */
  bastions: NodePlan[]
  floating: FloatingPlan[]
  /** Controller key and the pin file of node host keys (the inventory's ssh settings point here). */
  keyFile: string
  knownHostsFile: string
  warnings: string[]
}

export function servicePlan(s: Service): ServicePlan {
  const ports = (p: 'http' | 'tcp') => [...new Set(s.checks.filter((c) => c.protocol === p && c.port).map((c) => c.port!))]
  return { name: s.name, singleton: s.singleton ?? false, http: ports('http'), tcp: ports('tcp'), ...(s.postgresql ? { postgresql: true } : {}) }
}

const loginUser = (ssh: ResolvedSsh): { login?: LoginUser } => (ssh.user === 'root' ? {} : { login: { name: ssh.user, become: ssh.become } })

export function labPlan(inv: LoadedInventory): LabPlan {
  const lab = inv.data.lab
  if (!lab) throw new InputError(`${inv.file}: no "lab" block; the lab builds only inventories that declare one`)
  const { base, prefix } = parseCidr(lab.subnet)
  const subnet = `${intToIp(base)}/${prefix}`
  const stateDir = path.join(inv.dir, '.lab', lab.name)
  let index = 0
  const nodes: NodePlan[] = []
  const floating: FloatingPlan[] = []
  for (const pair of inv.data.pairs) {
    const services = (pair.services ?? []).map(servicePlan)
    for (const node of pair.nodes) {
      const iface = node.interface ?? 'eth0'
      nodes.push({
        name: node.name,
        pair: pair.name,
        index: index++,
        primary: node.name === pair.primary,
        ns: nodeNs(lab.name, node.name),
        port: nodePort(lab.name, index - 1),
        iface,
        address: node.address,
        ...(node.privateAddress ? { privateAddress: node.privateAddress } : {}),
        prefix,
        sshPort: sshSettings(inv, pair, node).port,
        root: path.join(stateDir, 'nodes', node.name),
        services,
        ...loginUser(sshSettings(inv, pair, node)),
      })
    }
    const primary = pair.nodes.find((n) => n.name === pair.primary)!
    for (const f of pair.floatingIps ?? []) {
      // Only addresses the OS moves exist in the lab; cloud drivers have nothing to emulate here.
      if (f.driver !== 'linux' || f.address.includes(':')) continue
      const iface = f.interface ?? primary.interface ?? 'eth0'
      const bad = pair.nodes.find((n) => (n.interface ?? 'eth0') !== iface)
      if (bad)
        throw new InputError(`${inv.file}: floating IP ${f.address} uses interface ${iface}, but the lab gives ${bad.name} only ${bad.interface ?? 'eth0'}`)
      floating.push({ name: f.name, pair: pair.name, address: f.address, prefix: f.prefix ?? 32, holder: pair.primary, iface })
    }
  }
  // After the nodes, so a bastion added to an inventory never renumbers a node's cable.
  const bastions: NodePlan[] = (lab.bastions ?? []).map((b) => ({
    name: b.name,
    pair: '',
    index: index++,
    primary: false,
    ns: nodeNs(lab.name, b.name),
    port: nodePort(lab.name, index - 1),
    iface: 'eth0',
    address: b.address,
    prefix,
    sshPort: 22,
    root: path.join(stateDir, 'bastions', b.name),
    services: [],
  }))
  const plan: LabPlan = {
    lab: lab.name,
    id: shortId(lab.name),
    subnet,
    prefix,
    controller: lab.controller,
    rootVeth: rootVeth(lab.name),
    bridgePeer: bridgePeer(lab.name),
    bridgeNs: bridgeNs(lab.name),
    stateDir,
    nodes,
    bastions,
    floating,
    keyFile: path.join(stateDir, 'controller_ed25519'),
    knownHostsFile: path.join(stateDir, 'known_hosts'),
    warnings: [],
  }
  // The lab writes its key and pin file into stateDir only (so `down` removes them); an
  // inventory that looks elsewhere would not find them, which is worth saying at `up`.
  for (const pair of inv.data.pairs)
    for (const node of pair.nodes) {
      const ssh = sshSettings(inv, pair, node)
      for (const [what, want, got] of [
        ['keyFile', plan.keyFile, ssh.keyFile],
        ['knownHostsFile', plan.knownHostsFile, ssh.knownHostsFile],
      ] as const) {
        const w = `inventory ssh.${what} of ${node.name} is ${got ?? 'unset'}; the lab writes it to ${want}`
        if (got !== want && !plan.warnings.includes(w)) plan.warnings.push(w)
      }
    }
  for (const n of [plan.rootVeth, plan.bridgePeer, ...nodes.map((x) => x.port), ...bastions.map((x) => x.port)]) {
    if (n.length > MAX_IFNAME) throw new InputError(`lab interface name ${n} is longer than ${MAX_IFNAME} characters (too many nodes?)`)
  }
  return plan
}

/**
 * Whether a leftover namespace belongs to `lab`: it has the lab's prefix and is not a node of a
 * longer-named lab that happens to share it ("demo" vs "demo-x": hp-demo-x-node-a is demo-x's
 * when hp-demo-x-br exists).
 */
export function isLabNamespace(lab: string, ns: string, all: string[]): boolean {
  if (!ns.startsWith(nsPrefix(lab))) return false
  if (ns === bridgeNs(lab)) return true
  return !all.some((other) => {
    const m = /^hp-(.+)-br$/.exec(other)
    return m !== null && m[1] !== lab && m[1].startsWith(`${lab}-`) && ns.startsWith(nsPrefix(m[1]))
  })
}

/** The /27 slots of 198.51.100.0/24: slot 0 is the demo lab, 1..7 are for tests. */
export const SLOT_NET = '198.51.100'
export const SLOT_SIZE = 32
export const SLOTS = 7

/**
 * Moves an inventory written for slot 0 (198.51.100.0/27, lab "demo") into slot k: every
 * 198.51.100.N becomes 198.51.100.(32k+N), the lab is renamed t<k> and its .lab/<name>/ paths follow.
 */
export function relocateInventory<T>(json: T, k: number): T {
  if (!Number.isInteger(k) || k < 0 || k > SLOTS) throw new InputError(`lab slot must be 0..${SLOTS} (got ${k})`)
  const src = json as { lab?: { name?: string } }
  const oldName = src.lab?.name
  const newName = k === 0 && oldName ? oldName : `t${k}`
  const addr = new RegExp(`(?<![\\d.])${SLOT_NET.replace(/\./g, '\\.')}\\.(\\d{1,3})(?![\\d])`, 'g')
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let s = v.replace(addr, (_m, n: string) => {
        if (Number(n) >= SLOT_SIZE) throw new InputError(`${SLOT_NET}.${n} is outside slot 0 (${SLOT_NET}.0/27); cannot relocate it`)
        return `${SLOT_NET}.${SLOT_SIZE * k + Number(n)}`
      })
      if (oldName) s = s.split(`.lab/${oldName}/`).join(`.lab/${newName}/`)
      return s
    }
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, walk(x)]))
    return v
  }
  const out = walk(json) as { lab?: { name?: string } }
  if (out.lab) out.lab.name = newName
  return out as T
}
