// Schema validation (ajv, draft 2020-12) plus the semantic rules a schema cannot express.
// Every problem is one line: JSON path, what is wrong, what was expected.
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ErrorObject } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { schemaDocument, type Inventory, type Pair } from './schema.ts'

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

let compiled: ReturnType<Ajv2020['compile']> | undefined
function validator() {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true })
    addFormats(ajv)
    compiled = ajv.compile(schemaDocument())
  }
  return compiled
}

export interface Problem { path: string; message: string }

const show = (v: unknown) => {
  const s = JSON.stringify(v)
  return s === undefined ? '' : s.length > 60 ? s.slice(0, 57) + '...' : s
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: any = data
  for (const part of pointer.split('/').slice(1)) {
    if (cur == null) return undefined
    cur = cur[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return cur
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, any>
  switch (e.keyword) {
    case 'additionalProperties': return `unknown property "${p.additionalProperty}" (allowed: ${Object.keys(e.parentSchema?.properties ?? {}).join(', ')})`
    case 'required': return `missing required property "${p.missingProperty}"`
    case 'enum': return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    case 'const': return `must be ${JSON.stringify(p.allowedValue)}`
    default: return e.message ?? e.keyword
  }
}

/** Turns ajv's errors into one readable line per location. */
export function schemaProblems(data: unknown): Problem[] {
  const validate = validator()
  if (validate(data)) return []
  const errors = validate.errors ?? []
  // A union (anyOf) reports every branch's failure plus its own; collapse them into one line.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  const out: Problem[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    const path = e.instancePath.replace(/^\//, '') || '(root)'
    let message: string
    if (e.keyword === 'anyOf') {
      const branches = errors
        .filter((b) => b !== e && b.instancePath === e.instancePath && b.schemaPath.startsWith(e.schemaPath))
        .map(describe)
      message = `must match one of: ${[...new Set(branches)].join(' | ')}`
    } else if (anyOfPaths.has(e.instancePath) && errors.some((a) => a.keyword === 'anyOf' && a.instancePath === e.instancePath && e.schemaPath.startsWith(a.schemaPath))) {
      continue
    } else {
      message = describe(e)
    }
    if (e.keyword !== 'required' && e.keyword !== 'additionalProperties') {
      const got = valueAt(data, e.instancePath)
      if (got !== undefined && typeof got !== 'object') message += ` (got ${show(got)})`
    }
    const key = `${path}\u0000${message}`
    if (!seen.has(key)) { seen.add(key); out.push({ path, message }) }
  }
  return out
}

function ipv4ToInt(a: string): number { return a.split('.').reduce((n, o) => n * 256 + Number(o), 0) }
export function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/')
  if (!base.includes('.') || address.includes(':')) return false
  const n = Number(bits)
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0
  return ((ipv4ToInt(address) & mask) >>> 0) === ((ipv4ToInt(base) & mask) >>> 0)
}

const hasDotDot = (p: string) => p.split('/').includes('..')
const inside = (child: string, parent: string) => {
  const base = parent.replace(/\/+$/, '')
  return child === base || child.startsWith(base + '/') || base === ''
}

function uniqueNames(list: { name: string }[] | undefined, at: string, what: string, out: Problem[]) {
  const seen = new Map<string, number>()
  list?.forEach((x, i) => {
    if (seen.has(x.name)) out.push({ path: `${at}/${i}/name`, message: `duplicate ${what} name "${x.name}" (first at ${at}/${seen.get(x.name)})` })
    else seen.set(x.name, i)
  })
}

function versionSource(v: { file?: string; command?: string } | undefined, at: string, out: Problem[]) {
  if (v && (v.file === undefined) === (v.command === undefined)) out.push({ path: at, message: 'must name exactly one of "file" or "command"' })
}

function pairProblems(pair: Pair, pi: number, out: Problem[]) {
  const at = `pairs/${pi}`
  uniqueNames(pair.nodes, `${at}/nodes`, 'node', out)
  const nodeNames = new Set(pair.nodes.map((n) => n.name))
  if (!nodeNames.has(pair.primary)) out.push({ path: `${at}/primary`, message: `"${pair.primary}" is not a node of this pair (nodes: ${[...nodeNames].join(', ')})` })

  const own = new Map<string, string>()
  pair.nodes.forEach((n, ni) => {
    for (const a of [n.address, n.address6, n.serviceAddress, n.serviceAddress6]) if (a) own.set(a, `${at}/nodes/${ni}`)
  })
  pair.floatingIps?.forEach((f, fi) => {
    const fat = `${at}/floatingIps/${fi}`
    if (own.has(f.address)) out.push({ path: `${fat}/address`, message: `${f.address} is a node's own address (${own.get(f.address)}); a floating IP must be separate` })
    const v6 = f.address.includes(':')
    if (f.prefix !== undefined && !v6 && f.prefix > 32) out.push({ path: `${fat}/prefix`, message: `must be at most 32 for an IPv4 address (got ${f.prefix})` })
    if (f.driver === 'hcloud') {
      if (!f.hcloud) out.push({ path: fat, message: 'driver "hcloud" needs an "hcloud" block with floatingIpId' })
      pair.nodes.forEach((n, ni) => { if (!n.hcloud) out.push({ path: `${at}/nodes/${ni}`, message: 'driver "hcloud" needs hcloud.serverId on every node' }) })
    }
    if (f.driver === 'digitalocean') {
      pair.nodes.forEach((n, ni) => { if (!n.digitalocean) out.push({ path: `${at}/nodes/${ni}`, message: 'driver "digitalocean" needs digitalocean.dropletId on every node' }) })
    }
    if (f.driver !== 'hcloud' && f.hcloud) out.push({ path: `${fat}/hcloud`, message: `only allowed with driver "hcloud" (driver is "${f.driver}")` })
    if (f.driver !== 'digitalocean' && f.digitalocean) out.push({ path: `${fat}/digitalocean`, message: `only allowed with driver "digitalocean" (driver is "${f.driver}")` })
  })
  const fips = new Map<string, number>()
  pair.floatingIps?.forEach((f, fi) => {
    if (fips.has(f.address)) out.push({ path: `${at}/floatingIps/${fi}/address`, message: `duplicate floating IP ${f.address} (first at ${at}/floatingIps/${fips.get(f.address)})` })
    else fips.set(f.address, fi)
  })
  if (pair.fencing?.driver === 'hcloud') pair.nodes.forEach((n, ni) => { if (!n.hcloud) out.push({ path: `${at}/nodes/${ni}`, message: 'fencing driver "hcloud" needs hcloud.serverId on every node' }) })
  if (pair.fencing?.driver === 'digitalocean') pair.nodes.forEach((n, ni) => { if (!n.digitalocean) out.push({ path: `${at}/nodes/${ni}`, message: 'fencing driver "digitalocean" needs digitalocean.dropletId on every node' }) })

  versionSource(pair.software, `${at}/software`, out)
  const sync = pair.sync
  if (sync) {
    uniqueNames(sync.items, `${at}/sync/items`, 'sync item', out)
    sync.items.forEach((it, ii) => {
      const iat = `${at}/sync/items/${ii}`
      if (hasDotDot(it.path)) out.push({ path: `${iat}/path`, message: `must not contain ".." (got "${it.path}")` })
      if (it.path === '/') out.push({ path: `${iat}/path`, message: 'must not be the root directory' })
      it.protect?.forEach((p, k) => {
        if (hasDotDot(p)) out.push({ path: `${iat}/protect/${k}`, message: `must not contain ".." (got "${p}")` })
        else if (!inside(p, it.path) || p.replace(/\/+$/, '') === it.path.replace(/\/+$/, '')) out.push({ path: `${iat}/protect/${k}`, message: `must be inside the item's path ${it.path} (got "${p}")` })
      })
      versionSource(it.version, `${iat}/version`, out)
    })
    sync.protected?.forEach((p, k) => { if (hasDotDot(p)) out.push({ path: `${at}/sync/protected/${k}`, message: `must not contain ".." (got "${p}")` }) })
  }

  uniqueNames(pair.services, `${at}/services`, 'service', out)
  pair.services?.forEach((s, si) => s.checks.forEach((c, ci) => {
    const cat = `${at}/services/${si}/checks/${ci}`
    if ((c.protocol === 'http' || c.protocol === 'tcp') && c.port === undefined) out.push({ path: cat, message: `a ${c.protocol} check needs "port"` })
    if (c.protocol === 'command' && !c.command) out.push({ path: cat, message: 'a command check needs "command"' })
    if (c.protocol !== 'http' && (c.path !== undefined || c.expectStatus !== undefined || c.expectBody !== undefined)) out.push({ path: cat, message: `"path", "expectStatus" and "expectBody" are for http checks (protocol is "${c.protocol}")` })
  }))
  uniqueNames(pair.backups, `${at}/backups`, 'backup', out)
  pair.backups?.forEach((b, bi) => {
    if (b.minBytes !== undefined && b.maxBytes !== undefined && b.minBytes > b.maxBytes) out.push({ path: `${at}/backups/${bi}/minBytes`, message: `must not exceed maxBytes (${b.minBytes} > ${b.maxBytes})` })
  })
  uniqueNames(pair.archives, `${at}/archives`, 'archive', out)
  uniqueNames(pair.errorLogs, `${at}/errorLogs`, 'error log', out)
  pair.errorLogs?.forEach((l, li) => {
    for (const key of ['patterns', 'ignore'] as const) l[key]?.forEach((re, k) => {
      try { new RegExp(re) } catch (e) { out.push({ path: `${at}/errorLogs/${li}/${key}/${k}`, message: `invalid regular expression: ${(e as Error).message}` }) }
    })
  })
  uniqueNames(pair.preconditions?.endpoints, `${at}/preconditions/endpoints`, 'endpoint', out)
  pair.preconditions?.paths?.forEach((p, k) => { if (hasDotDot(p.path)) out.push({ path: `${at}/preconditions/paths/${k}/path`, message: `must not contain ".." (got "${p.path}")` }) })
  uniqueNames(pair.networks, `${at}/networks`, 'network', out)
  pair.networks?.forEach((n, k) => {
    if (n.gateway && !n.gateway.includes(':') && !inSubnet(n.gateway, n.cidr)) out.push({ path: `${at}/networks/${k}/gateway`, message: `${n.gateway} is not inside ${n.cidr} (seed N4: gateways must belong to the network)` })
  })
  if (pair.provision) {
    const p = pair.provision
    if (p.sshPublicKey && p.sshPublicKeyFile) out.push({ path: `${at}/provision`, message: 'give "sshPublicKey" or "sshPublicKeyFile", not both' })
  }
}

/** Rules across the whole inventory that JSON Schema cannot say. Assumes the schema passed. */
export function semanticProblems(inv: Inventory): Problem[] {
  const out: Problem[] = []
  uniqueNames(inv.pairs, 'pairs', 'pair', out)
  inv.pairs.forEach((p, i) => pairProblems(p, i, out))
  // Node names are global: the lab, `lab exec NODE` and audit logs name nodes without their pair.
  const nodes = new Map<string, string>()
  const addrs = new Map<string, string>()
  inv.pairs.forEach((p, pi) => p.nodes.forEach((n, ni) => {
    const at = `pairs/${pi}/nodes/${ni}`
    if (nodes.has(n.name) && !nodes.get(n.name)!.startsWith(`pairs/${pi}/`)) out.push({ path: `${at}/name`, message: `node name "${n.name}" is already used at ${nodes.get(n.name)}` })
    else if (!nodes.has(n.name)) nodes.set(n.name, at)
    if (addrs.has(n.address)) out.push({ path: `${at}/address`, message: `address ${n.address} is already used by ${addrs.get(n.address)}` })
    else addrs.set(n.address, at)
  }))
  if (inv.lab) {
    const { subnet, controller } = inv.lab
    const bits = Number(subnet.split('/')[1])
    if (subnet.includes(':') || bits > 30 || bits < 8) out.push({ path: 'lab/subnet', message: `must be an IPv4 subnet between /8 and /30 (got "${subnet}")` })
    else {
      if (!inSubnet(controller, subnet)) out.push({ path: 'lab/controller', message: `${controller} is not inside the lab subnet ${subnet}` })
      inv.pairs.forEach((p, pi) => {
        p.nodes.forEach((n, ni) => {
          if (!inSubnet(n.address, subnet)) out.push({ path: `pairs/${pi}/nodes/${ni}/address`, message: `${n.address} is not inside the lab subnet ${subnet}` })
          if (n.address === controller) out.push({ path: `pairs/${pi}/nodes/${ni}/address`, message: `${n.address} is the lab controller's address` })
        })
        p.floatingIps?.forEach((f, fi) => {
          if (f.driver === 'linux' && !f.address.includes(':') && !inSubnet(f.address, subnet)) out.push({ path: `pairs/${pi}/floatingIps/${fi}/address`, message: `${f.address} is not inside the lab subnet ${subnet}` })
        })
      })
    }
  }
  return out
}
