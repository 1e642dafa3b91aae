// Schema validation (ajv, draft 2020-12) plus the semantic rules a schema cannot express.
// Every problem is one line: JSON path, what is wrong, what was expected.
import type { ErrorObject } from 'ajv'
import { inSubnet, ipKey, parseCidr, parseIp, reservedInSubnet } from './address.ts'
import type { Inventory, Pair, UnresolvedNode } from './schema.ts'
import { PATTERN_MEANING } from './patterns.ts'
import { catastrophicPattern } from '../regex-safety.ts'
import { watchProblems } from './watch-settings.ts'
import { hasDotDot, normalPath, within } from '../paths.ts'
import { floatingIpReservedProblems, labFencingProblems, stateDirProblems, syncItemPathProblems } from './hostile-rules.ts'
import { postgresProblems } from './postgres-rules.ts'
import { jumpProblems } from './jump-rules.ts'
// Precompiled by `npm run schema` (lib/inventory/generate.ts): compiling the schema with ajv at
// run time, or importing TypeBox, would add a quarter of a second to every playbook start.
import { validate as compiledValidator } from '../../schemas/inventory.validate.mjs'

const validator = () => compiledValidator

export interface Problem {
  path: string
  message: string
}

const ROOT = '(root)'
const show = (v: unknown) => {
  const s = JSON.stringify(v)
  return s === undefined ? '' : s.length > 60 ? s.slice(0, 57) + '...' : s
}
const join = (parent: string, key: string) => (parent === ROOT ? key : `${parent}/${key}`)

function valueAt(data: unknown, pointer: string): unknown {
  let cur: any = data
  for (const part of pointer.split('/').slice(1)) {
    if (cur == null) return undefined
    cur = cur[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return cur
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, any>
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(e.parentSchema?.properties ?? {})
      const near = allowed.filter((k) => editDistance(k.toLowerCase(), String(p.additionalProperty).toLowerCase()) <= 2)
      return `unknown property ${show(String(p.additionalProperty))} (${near.length ? `did you mean "${near[0]}"? ` : ''}allowed: ${allowed.join(', ')})`
    }
    case 'required':
      return `missing required property "${p.missingProperty}"`
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`
    case 'pattern':
      return PATTERN_MEANING[p.pattern] ?? e.message ?? 'must match a pattern'
    default:
      return e.message ?? e.keyword
  }
}

/** Where the thing that is wrong lives: an unknown property's own path, a missing one's would-be path. */
function location(e: ErrorObject): string {
  const at = e.instancePath.replace(/^\//, '') || ROOT
  const p = e.params as Record<string, any>
  if (e.keyword === 'additionalProperties') return join(at, String(p.additionalProperty))
  if (e.keyword === 'required') return join(at, String(p.missingProperty))
  return at
}

/** Turns ajv's errors into one readable line per location. */
export function schemaProblems(data: unknown): Problem[] {
  return schemaErrors(data).map(({ path, message }) => ({ path, message }))
}

// Errors that change what the enclosing object means: a missing or unknown property, or a wrong kind
// (protocol, driver, policy…), which decides which other properties the object may have.
const STRUCTURAL = new Set(['required', 'additionalProperties', 'enum', 'const'])

function schemaErrors(data: unknown): (Problem & { at: string; structural: boolean })[] {
  const validate = validator()
  if (validate(data)) return []
  const errors = validate.errors ?? []
  const out: (Problem & { at: string; structural: boolean })[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    // A union (anyOf) reports every branch's failure plus its own; collapse them into one line.
    if (errors.some((a) => a !== e && a.keyword === 'anyOf' && a.instancePath === e.instancePath && e.schemaPath.startsWith(a.schemaPath + '/'))) continue
    // An unknown property is reported at its own path (where an editor puts the cursor); a missing one at its parent.
    const path = e.keyword === 'additionalProperties' ? location(e) : e.instancePath.replace(/^\//, '') || ROOT
    let message: string
    if (e.keyword === 'anyOf') {
      const branches = errors.filter((b) => b !== e && b.instancePath === e.instancePath && b.schemaPath.startsWith(e.schemaPath + '/'))
      message = branches.every((b) => b.keyword === 'format')
        ? `must match format ${branches.map((b) => JSON.stringify((b.params as { format: string }).format)).join(' or ')}`
        : `must match one of: ${[...new Set(branches.map(describe))].join(' | ')}`
    } else {
      message = describe(e)
    }
    if (e.keyword !== 'required' && e.keyword !== 'additionalProperties') {
      const got = valueAt(data, e.instancePath)
      // A whole file that is one scalar (a key or a password file read as YAML) is never quoted.
      if (e.instancePath === '') message += got === null ? ' (got null)' : ` (got ${Array.isArray(got) ? 'an array' : `a ${typeof got}`})`
      else if (got !== undefined && typeof got !== 'object') message += ` (got ${show(got)})`
      // A YAML key written with nothing after its colon reads as null: say so, not "got null".
      else if (got === null) message += ' (got null, which is also what a YAML key with nothing after its colon reads as: give it a value, or remove the key)'
    }
    const key = `${path}\u0000${message}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push({ path, message, at: location(e), structural: STRUCTURAL.has(e.keyword) })
    }
  }
  return out
}

// ---- semantic rules --------------------------------------------------------------------------

function uniqueNames(list: { name: string }[] | undefined, at: string, what: string, out: Problem[]) {
  const seen = new Map<string, number>()
  list?.forEach((x, i) => {
    if (seen.has(x.name)) out.push({ path: `${at}/${i}/name`, message: `duplicate ${what} name "${x.name}" (first at ${at}/${seen.get(x.name)})` })
    else seen.set(x.name, i)
  })
}

function versionSource(v: { file?: string; command?: string } | undefined, at: string, out: Problem[]) {
  if (v && (v.file === undefined) === (v.command === undefined))
    out.push({ path: at, message: `must name exactly one of "file" or "command" (got ${v.file === undefined ? 'neither' : 'both'})` })
}

function cidrs(list: unknown[] | undefined, at: string, out: Problem[]) {
  list?.forEach((c, k) => {
    if (!parseCidr(c)) out.push({ path: `${at}/${k}`, message: `not a valid IPv4 or IPv6 network (got ${show(c)})` })
  })
}

/** Same default as load.ts's stateDir (not imported: load.ts imports this file). */
const stateDir = (pair: Pair) => pair.stateDir ?? `/var/lib/hapair/${pair.name}`

/** A pattern that can backtrack exponentially would hang verify on one unlucky line: refused before any run. */
function backtrackingPattern(re: string, path: string, out: Problem[]) {
  if (catastrophicPattern(re))
    out.push({
      path,
      message: `nests a quantifier inside a quantified group (or quantifies overlapping alternatives): it can take exponential time on one line; write it without the nesting (got ${JSON.stringify(re)})`,
    })
}

function pairProblems(pair: Pair, pi: number, labSubnet: string | undefined, out: Problem[]) {
  const at = `pairs/${pi}`
  uniqueNames(pair.nodes, `${at}/nodes`, 'node', out)
  const nodeNames = new Set(pair.nodes.map((n) => n.name))
  if (!nodeNames.has(pair.primary))
    out.push({ path: `${at}/primary`, message: `"${pair.primary}" is not a node of this pair (nodes: ${[...nodeNames].join(', ')})` })
  // Only a stack can say what a server's address will be: elsewhere it is required.
  if (!pair.provision)
    pair.nodes.forEach((n: UnresolvedNode, ni) => {
      if (n.address === undefined)
        out.push({
          path: `${at}/nodes/${ni}`,
          message: 'missing required property "address" (only the nodes of a pair with a "provision" block may leave it out: import-stack writes it)',
        })
    })

  pair.floatingIps?.forEach((f, fi) => {
    const fat = `${at}/floatingIps/${fi}`
    const v6 = f.address.includes(':')
    if (f.prefix !== undefined && !v6 && f.prefix > 32) out.push({ path: `${fat}/prefix`, message: `must be at most 32 for an IPv4 address (got ${f.prefix})` })
    if (f.driver === 'hcloud') {
      if (!f.hcloud) out.push({ path: fat, message: 'driver "hcloud" needs an "hcloud" block with floatingIpId' })
      pair.nodes.forEach((n, ni) => {
        if (!n.hcloud) out.push({ path: `${at}/nodes/${ni}`, message: 'floating IP driver "hcloud" needs hcloud.serverId on every node' })
      })
    }
    if (f.driver === 'digitalocean') {
      pair.nodes.forEach((n, ni) => {
        if (!n.digitalocean) out.push({ path: `${at}/nodes/${ni}`, message: 'floating IP driver "digitalocean" needs digitalocean.dropletId on every node' })
      })
    }
    if (f.driver !== 'hcloud' && f.hcloud) out.push({ path: `${fat}/hcloud`, message: `only allowed with driver "hcloud" (driver is "${f.driver}")` })
    if (f.driver !== 'digitalocean' && f.digitalocean)
      out.push({ path: `${fat}/digitalocean`, message: `only allowed with driver "digitalocean" (driver is "${f.driver}")` })
  })
  floatingIpReservedProblems(pair, at, labSubnet, out)
  const fencing = pair.fencing
  if (fencing?.driver === 'hcloud')
    pair.nodes.forEach((n, ni) => {
      if (!n.hcloud) out.push({ path: `${at}/nodes/${ni}`, message: 'fencing driver "hcloud" needs hcloud.serverId on every node' })
    })
  if (fencing?.driver === 'digitalocean')
    pair.nodes.forEach((n, ni) => {
      if (!n.digitalocean) out.push({ path: `${at}/nodes/${ni}`, message: 'fencing driver "digitalocean" needs digitalocean.dropletId on every node' })
    })
  if (fencing && fencing.driver !== 'hcloud' && fencing.hcloud)
    out.push({ path: `${at}/fencing/hcloud`, message: `only allowed with driver "hcloud" (driver is "${fencing.driver}")` })
  if (fencing && fencing.driver !== 'digitalocean' && fencing.digitalocean)
    out.push({ path: `${at}/fencing/digitalocean`, message: `only allowed with driver "digitalocean" (driver is "${fencing.driver}")` })

  versionSource(pair.software, `${at}/software`, out)
  stateDirProblems(pair, at, out)
  syncItemPathProblems(pair, stateDir(pair), at, out)
  const sync = pair.sync
  if (sync) {
    uniqueNames(sync.items, `${at}/sync/items`, 'sync item', out)
    sync.items.forEach((it, ii) => {
      const iat = `${at}/sync/items/${ii}`
      if (hasDotDot(it.path)) out.push({ path: `${iat}/path`, message: `must not contain ".." (got "${it.path}")` })
      else if (normalPath(it.path) === '/') out.push({ path: `${iat}/path`, message: `must not be the root directory (got "${it.path}")` })
      else {
        // An item inside another would be synced twice, under two version policies; the enclosing one could mirror-delete it.
        const k = sync.items.findIndex(
          (o, oi) =>
            oi !== ii && !hasDotDot(o.path) && normalPath(o.path) !== '/' && within(it.path, o.path) && (normalPath(o.path) !== normalPath(it.path) || oi < ii),
        )
        if (k >= 0)
          out.push({
            path: `${iat}/path`,
            message: `overlaps sync item "${sync.items[k].name}" (${sync.items[k].path}); items must not nest (got "${it.path}")`,
          })
      }
      it.protect?.forEach((p, k) => {
        if (hasDotDot(p)) out.push({ path: `${iat}/protect/${k}`, message: `must not contain ".." (got "${p}")` })
        else if (!within(p, it.path) || normalPath(p) === normalPath(it.path))
          out.push({ path: `${iat}/protect/${k}`, message: `must be inside the item's path ${it.path} (got "${p}")` })
      })
      versionSource(it.version, `${iat}/version`, out)
      // Only a mirror deletes on the target: a limit elsewhere reads as protection it does not give.
      if (it.maxDelete && !it.mirror)
        out.push({ path: `${iat}/maxDelete`, message: 'only applies to mirror items (this item has mirror false: sync never deletes from it)' })
    })
    sync.protected?.forEach((p, k) => {
      if (hasDotDot(p)) out.push({ path: `${at}/sync/protected/${k}`, message: `must not contain ".." (got "${p}")` })
    })
  }

  uniqueNames(pair.services, `${at}/services`, 'service', out)
  pair.services?.forEach((s, si) =>
    s.checks.forEach((c, ci) => {
      const cat = `${at}/services/${si}/checks/${ci}`
      const only = (keys: (keyof typeof c)[], proto: string) => {
        const given = keys.filter((k) => c[k] !== undefined)
        if (c.protocol !== proto && given.length)
          out.push({
            path: `${cat}/${given[0]}`,
            message: `${given.map((k) => `"${k}"`).join(', ')} only appl${given.length > 1 ? 'y' : 'ies'} to ${proto} checks (protocol is "${c.protocol}")`,
          })
      }
      if ((c.protocol === 'http' || c.protocol === 'tcp') && c.port === undefined)
        out.push({ path: cat, message: `${c.protocol === 'http' ? 'an' : 'a'} ${c.protocol} check needs "port"` })
      if (c.protocol === 'command' && !c.command) out.push({ path: cat, message: 'a command check needs "command"' })
      if (c.protocol === 'command' && c.port !== undefined)
        out.push({ path: `${cat}/port`, message: `"port" does not apply to command checks (got ${c.port})` })
      only(['path', 'expectStatus', 'expectBody'], 'http')
      only(['send', 'expect'], 'tcp')
      only(['command'], 'command')
    }),
  )
  postgresProblems(pair, at, out)
  uniqueNames(pair.backups, `${at}/backups`, 'backup', out)
  pair.backups?.forEach((b, bi) => {
    if (b.minBytes !== undefined && b.maxBytes !== undefined && b.minBytes > b.maxBytes)
      out.push({ path: `${at}/backups/${bi}/minBytes`, message: `must not exceed maxBytes (${b.minBytes} > ${b.maxBytes})` })
    if (b.postgresql) {
      for (const key of ['checksumFile', 'manifestSuffix'] as const) {
        if (b[key] !== undefined)
          out.push({
            path: `${at}/backups/${bi}/${key}`,
            message: 'does not apply to a postgresql backup: its backup_manifest lists every file with a checksum, which --restore checks with pg_verifybackup',
          })
      }
      if (b.postgresql.binDir !== undefined && hasDotDot(b.postgresql.binDir))
        out.push({ path: `${at}/backups/${bi}/postgresql/binDir`, message: `must not contain ".." (got ${JSON.stringify(b.postgresql.binDir)})` })
    }
  })
  uniqueNames(pair.archives, `${at}/archives`, 'archive', out)
  uniqueNames(pair.errorLogs, `${at}/errorLogs`, 'error log', out)
  pair.errorLogs?.forEach((l, li) => {
    for (const key of ['patterns', 'ignore'] as const)
      l[key]?.forEach((re, k) => {
        try {
          new RegExp(re)
        } catch (e) {
          out.push({
            path: `${at}/errorLogs/${li}/${key}/${k}`,
            message: `invalid regular expression: ${(e as Error).message.split(': ').pop()} (got ${show(re)})`,
          })
        }
        backtrackingPattern(re, `${at}/errorLogs/${li}/${key}/${k}`, out)
      })
  })
  uniqueNames(pair.preconditions?.endpoints, `${at}/preconditions/endpoints`, 'endpoint', out)
  pair.preconditions?.paths?.forEach((p, k) => {
    if (hasDotDot(p.path)) out.push({ path: `${at}/preconditions/paths/${k}/path`, message: `must not contain ".." (got "${p.path}")` })
  })
  uniqueNames(pair.networks, `${at}/networks`, 'network', out)
  pair.networks?.forEach((n, k) => {
    if (!parseCidr(n.cidr)) out.push({ path: `${at}/networks/${k}/cidr`, message: `not a valid IPv4 or IPv6 network (got "${n.cidr}")` })
    else if (n.gateway && !inSubnet(n.gateway, n.cidr))
      out.push({ path: `${at}/networks/${k}/gateway`, message: `${n.gateway} is not inside ${n.cidr} (seed N4: gateways must belong to the network)` })
  })
  if (pair.provision) {
    const p = pair.provision
    const pat = `${at}/provision`
    if (p.sshPublicKey && p.sshPublicKeyFile) out.push({ path: pat, message: 'give "sshPublicKey" or "sshPublicKeyFile", not both' })
    if (p.sshKey && (p.sshPublicKey || p.sshPublicKeyFile))
      out.push({
        path: `${pat}/sshKey`,
        message: 'give "sshKey" (a key already in the project) or "sshPublicKey"/"sshPublicKeyFile" (a key to create), not both',
      })
    if (p.sshKey && (p.sshKey.name === undefined) === (p.sshKey.id === undefined))
      out.push({ path: `${pat}/sshKey`, message: 'give the key\'s "name" or its "id", one of them' })
    cidrs(p.adminNetworks, `${pat}/adminNetworks`, out)
    p.servicePorts?.forEach((s, k) => cidrs(s.sources, `${pat}/servicePorts/${k}/sources`, out))
    provisionProblems(pair, at, out)
  }
}

/** What a Pulumi stack needs to build the pair, and what keeps it consistent with the drivers. */
function provisionProblems(pair: Pair, at: string, out: Problem[]) {
  const p = pair.provision!
  const pat = `${at}/provision`
  // Without a key the provider mails a root password (Hetzner) or refuses (DigitalOcean).
  if (!p.sshPublicKey && !p.sshPublicKeyFile && !p.sshKey)
    out.push({
      path: pat,
      message: 'needs "sshPublicKey" or "sshPublicKeyFile" (a key to create), or "sshKey" (one already in the project): the servers are reached by key only',
    })
  pair.floatingIps?.forEach((f, fi) => {
    if ((f.driver === 'hcloud' || f.driver === 'digitalocean') && f.driver !== p.provider)
      out.push({ path: `${at}/floatingIps/${fi}/driver`, message: `"${f.driver}" does not match provision.provider "${p.provider}"` })
  })
  const fd = pair.fencing?.driver
  if ((fd === 'hcloud' || fd === 'digitalocean') && fd !== p.provider)
    out.push({ path: `${at}/fencing/driver`, message: `"${fd}" does not match provision.provider "${p.provider}"` })
  pair.nodes.forEach((n, ni) => {
    const other = p.provider === 'hcloud' ? n.digitalocean : n.hcloud
    if (other)
      out.push({
        path: `${at}/nodes/${ni}/${p.provider === 'hcloud' ? 'digitalocean' : 'hcloud'}`,
        message: `provider ids of another provider than provision.provider "${p.provider}"`,
      })
  })
  if (p.provider === 'digitalocean') {
    if (p.floatingIpv6)
      out.push({ path: `${pat}/floatingIpv6`, message: 'not supported with provider "digitalocean" (hapair moves reserved IPv4 addresses only)' })
    // A reserved IP belongs to one region and can only be assigned to droplets there.
    const regions = new Set(pair.nodes.map((n) => n.provision?.location ?? p.location))
    if (regions.size > 1)
      out.push({ path: pat, message: `all droplets must be in one region, a reserved IP cannot move between regions (got ${[...regions].join(', ')})` })
  }
}

function labProblems(inv: Inventory, out: Problem[]) {
  if (!inv.lab) return
  const { subnet, controller } = inv.lab
  const net = parseCidr(subnet)
  if (!net || net.base.v !== 4 || net.bits > 30 || net.bits < 8) {
    out.push({ path: 'lab/subnet', message: `must be an IPv4 subnet between /8 and /30 (got "${subnet}")` })
    return
  }
  if (!inSubnet(controller, subnet)) out.push({ path: 'lab/controller', message: `${controller} is not inside the lab subnet ${subnet}` })
  else if (reservedInSubnet(controller, subnet)) out.push({ path: 'lab/controller', message: `${controller} is the network or broadcast address of ${subnet}` })
  inv.pairs.forEach((p, pi) => {
    p.nodes.forEach((n: UnresolvedNode, ni) => {
      const at = `pairs/${pi}/nodes/${ni}/address`
      if (n.address === undefined) return
      if (!inSubnet(n.address, subnet)) out.push({ path: at, message: `${n.address} is not inside the lab subnet ${subnet}` })
      else if (reservedInSubnet(n.address, subnet)) out.push({ path: at, message: `${n.address} is the network or broadcast address of ${subnet}` })
      else if (n.address === controller) out.push({ path: at, message: `${n.address} is the lab controller's address` })
      // The lab has one link: a node's "private" address is a second one on it, which the peers reach and the controller need not use.
      const priv = n.privateAddress
      const pat = `pairs/${pi}/nodes/${ni}/privateAddress`
      if (priv === undefined) return
      if (!inSubnet(priv, subnet)) out.push({ path: pat, message: `${priv} is not inside the lab subnet ${subnet} (the lab has one link)` })
      else if (reservedInSubnet(priv, subnet)) out.push({ path: pat, message: `${priv} is the network or broadcast address of ${subnet}` })
      else if (priv === controller) out.push({ path: pat, message: `${priv} is the lab controller's address` })
    })
    p.floatingIps?.forEach((f, fi) => {
      const at = `pairs/${pi}/floatingIps/${fi}/address`
      if (f.driver !== 'linux' || f.address.includes(':')) return
      if (!inSubnet(f.address, subnet)) out.push({ path: at, message: `${f.address} is not inside the lab subnet ${subnet}` })
      else if (f.address === controller) out.push({ path: at, message: `${f.address} is the lab controller's address` })
    })
  })
}

/** Rules across the whole inventory that JSON Schema cannot say. Assumes the schema passed. */
export function semanticProblems(inv: Inventory): Problem[] {
  const out: Problem[] = []
  uniqueNames(inv.pairs, 'pairs', 'pair', out)
  inv.pairs.forEach((p, i) => pairProblems(p, i, inv.lab?.subnet, out))
  labFencingProblems(inv, out)
  watchProblems(inv, out)
  // A stack's provider takes one token, and the drivers take the same source (tokenFile, else the
  // environment): so every pair of one provider names the same tokenFile, or none.
  const tokens = new Map<string, { at: string; file?: string }>()
  inv.pairs.forEach((p, pi) => {
    if (!p.provision) return
    const at = `pairs/${pi}/provision/tokenFile`
    const first = tokens.get(p.provision.provider)
    const env = p.provision.provider === 'hcloud' ? 'HCLOUD_TOKEN' : 'DIGITALOCEAN_TOKEN'
    const say = (f?: string) => (f === undefined ? `none (${env})` : JSON.stringify(f))
    if (!first) tokens.set(p.provision.provider, { at, file: p.provision.tokenFile })
    else if (first.file !== p.provision.tokenFile)
      out.push({
        path: at,
        message: `${say(p.provision.tokenFile)} differs from ${first.at} (${say(first.file)}): the ${p.provision.provider} stack has one API token, so every ${p.provision.provider} pair names the same tokenFile, or none (then ${env})`,
      })
  })
  // Node names are global: the lab, `lab exec NODE` and audit logs name nodes without their pair.
  const nodes = new Map<string, string>()
  // Addresses are global too: a node's own address, or a floating IP, can belong to only one thing.
  const owner = new Map<string, string>()
  inv.pairs.forEach((p, pi) =>
    p.nodes.forEach((n, ni) => {
      const at = `pairs/${pi}/nodes/${ni}`
      if (nodes.has(n.name) && !nodes.get(n.name)!.startsWith(`pairs/${pi}/`))
        out.push({ path: `${at}/name`, message: `node name "${n.name}" is already used at ${nodes.get(n.name)}` })
      else if (!nodes.has(n.name)) nodes.set(n.name, at)
      for (const key of ['address', 'address6', 'serviceAddress', 'serviceAddress6'] as const) {
        const a = n[key]
        if (a === undefined) continue
        const k = ipKey(a)
        if (owner.has(k)) out.push({ path: `${at}/${key}`, message: `address ${a} is already used by ${owner.get(k)}` })
        else owner.set(k, `${at}/${key}`)
      }
    }),
  )
  inv.pairs.forEach((p, pi) =>
    p.floatingIps?.forEach((f, fi) => {
      const at = `pairs/${pi}/floatingIps/${fi}/address`
      const k = ipKey(f.address)
      const first = owner.get(k)
      if (first === undefined) owner.set(k, at)
      else if (first.includes('/floatingIps/')) out.push({ path: at, message: `duplicate floating IP ${f.address} (first at ${first})` })
      else out.push({ path: at, message: `${f.address} is a node's own address (${first}); a floating IP must be separate` })
    }),
  )
  labProblems(inv, out)
  jumpProblems(inv, out)
  const seen = new Set<string>()
  return out.filter((p) => {
    const k = `${p.path}\u0000${p.message}`
    return seen.has(k) ? false : (seen.add(k), true)
  })
}

const under = (path: string, scope: string) => scope === ROOT || path === scope || path.startsWith(scope + '/')

/**
 * Every problem at once: the schema's, plus the semantic rules' where they can be trusted.
 * When the schema fails, semantic rules still run, but a finding inside (or around) an object
 * the schema already rejected is dropped: it would judge a value the user must fix anyway.
 */
export function inventoryProblems(data: unknown): Problem[] {
  // Some other file behind an inventory's name (a shadow file reads as a YAML map): its keys are its secrets.
  if (data && typeof data === 'object' && !Array.isArray(data) && !('version' in data) && !('pairs' in data)) {
    return [{ path: ROOT, message: 'not an hapair inventory: it has neither "version" nor "pairs" at the top (its content is not quoted)' }]
  }
  const schema = schemaErrors(data)
  if (schema.length === 0) return semanticProblems(data as Inventory)
  let semantic: Problem[] = []
  try {
    semantic = semanticProblems(data as Inventory)
  } catch {
    /* shape too broken for the rules; the schema's lines say why */
  }
  // A wrong value taints only itself; a structural error taints its whole object
  // (a typo like "adress" means the object is not what its author meant).
  const scopes = schema.map((s) => {
    const parent = s.at.includes('/') ? s.at.slice(0, s.at.lastIndexOf('/')) : ROOT
    return { at: s.at, scope: !s.structural || parent === ROOT ? s.at : parent }
  })
  const kept = semantic.filter((p) => !scopes.some((s) => under(p.path, s.scope) || under(s.at, p.path)))
  return [...schema.map(({ path, message }) => ({ path, message })), ...kept]
}
