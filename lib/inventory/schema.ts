// The one source of the inventory's shape: the JSON Schema file in schemas/ is generated
// from this (npm run schema) and the TypeScript types are derived from it with Static<>,
// so there is no second hand-kept copy. A test fails when the committed JSON drifts.
import { Type as T, type Static, type TSchema, type TObject, type TProperties } from '@sinclair/typebox'
import { ABS_PATH, FILE_NAME, MAX_TIMER_MS } from './patterns.ts'

const Obj = <P extends TProperties>(props: P, opts: { description?: string } = {}): TObject<P> =>
  T.Object(props, { additionalProperties: false, ...opts })

const Name = T.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,62}$', description: 'lower-case name: letters, digits, . _ -' })
const AbsPath = T.String({ pattern: ABS_PATH, minLength: 1, description: 'absolute path' })
const FileName = (description: string) => T.String({ pattern: FILE_NAME, minLength: 1, description })
const Port = T.Integer({ minimum: 1, maximum: 65535 })
const Ipv4 = T.String({ format: 'ipv4' })
const Ipv6 = T.String({ format: 'ipv6' })
const IpAny = T.Union([Ipv4, Ipv6])
const Cidr = T.String({ pattern: '^[0-9a-fA-F.:]+/[0-9]{1,3}$', description: 'address/prefix, e.g. 198.51.100.0/24' })
// 0 would time out at once; above Node's timer limit a timer fires at once too, and every node reads as unreachable.
const Duration = (desc: string, dflt?: number) => T.Integer({ minimum: 1, maximum: MAX_TIMER_MS, description: `${desc ? desc + '; ' : ''}milliseconds, 1 to ${MAX_TIMER_MS}`, ...(dflt !== undefined ? { default: dflt } : {}) })

export const SshSettings = Obj({
  user: T.Optional(T.String({ minLength: 1, default: 'root' })),
  port: T.Optional(Port),
  keyFile: T.Optional(FileName('private key; relative paths are resolved from the inventory file')),
  knownHostsFile: T.Optional(FileName('known_hosts that pins every node\'s host key (relative to the inventory file)')),
  connectTimeoutMs: T.Optional(Duration('TCP + handshake timeout', 5000)),
  commandTimeoutMs: T.Optional(Duration('default timeout of one remote command', 30000)),
}, { description: 'How the controller reaches nodes over SSH; node settings override pair settings override defaults' })

/** Where a node reads a version number from: a file's first line or a command's stdout. */
export const VersionSource = Obj({
  file: T.Optional(AbsPath),
  command: T.Optional(T.String({ minLength: 1 })),
})

export const Node = Obj({
  name: Name,
  address: T.String({ format: 'ipv4', description: 'admin address: SSH and node-to-node sync use it' }),
  address6: T.Optional(Ipv6),
  serviceAddress: T.Optional(Ipv4),
  serviceAddress6: T.Optional(Ipv6),
  interface: T.Optional(T.String({ pattern: '^[A-Za-z0-9_.@-]{1,15}$', default: 'eth0', description: 'interface that holds floating IPs' })),
  ssh: T.Optional(SshSettings),
  hcloud: T.Optional(Obj({ serverId: T.Integer({ minimum: 1 }) })),
  digitalocean: T.Optional(Obj({ dropletId: T.Integer({ minimum: 1 }) })),
  provision: T.Optional(Obj({
    location: T.Optional(T.String({ minLength: 1 })),
    serverType: T.Optional(T.String({ minLength: 1 })),
    image: T.Optional(T.String({ minLength: 1 })),
  })),
})

const ApiCredentials = {
  tokenFile: T.Optional(FileName('file holding the API token; else the environment variable')),
  apiUrl: T.Optional(T.String({ format: 'uri', description: 'API base URL (tests point it at a local fake)' })),
}

export const FloatingIp = Obj({
  name: T.Optional(Name),
  address: IpAny,
  prefix: T.Optional(T.Integer({ minimum: 1, maximum: 128, description: 'prefix length used when the OS holds the address; default 32 (IPv4) / 64 (IPv6)' })),
  driver: T.Union([T.Literal('linux'), T.Literal('hcloud'), T.Literal('digitalocean')], { description: 'what moves the address' }),
  interface: T.Optional(T.String({ pattern: '^[A-Za-z0-9_.@-]{1,15}$' })),
  hcloud: T.Optional(Obj({ floatingIpId: T.Integer({ minimum: 1 }), ...ApiCredentials })),
  digitalocean: T.Optional(Obj({ ...ApiCredentials })),
})

export const Fencing = Obj({
  driver: T.Union([T.Literal('lab'), T.Literal('hcloud'), T.Literal('digitalocean'), T.Literal('none')], {
    description: 'how an unreachable node is powered off before its address is taken (STONITH)',
  }),
  hcloud: T.Optional(Obj({ ...ApiCredentials })),
  digitalocean: T.Optional(Obj({ ...ApiCredentials })),
})

/**
 * How much a mirror sync may delete on a target before it refuses (exit 3) and lists what would
 * go; --force lifts it. Defaults (lib/sync/delete-guard.ts): 1000 files, or a fifth of the files
 * the target holds in the item once more than 10 would go. A failover to a stale node followed
 * by a plain sync is how a mirror deletes the newer data from every other node.
 */
export const MaxDelete = Obj({
  count: T.Optional(T.Integer({ minimum: 0, default: 1000, description: 'most files one sync may delete from a target in this item; 0: none without --force' })),
  share: T.Optional(T.Number({ minimum: 0, maximum: 1, default: 0.2, description: 'most deleted files as a share of the files the target holds in the item (applies once more than 10 would go)' })),
}, { description: 'limit on mirror deletions per item and target; over it the sync refuses and lists the paths (--force lifts it)' })

export const SyncItem = Obj({
  name: Name,
  path: AbsPath,
  description: T.Optional(T.String()),
  priority: T.Optional(T.Integer({ default: 0, description: 'higher runs first' })),
  transport: T.Optional(T.Union([T.Literal('rsync'), T.Literal('sftp')], { default: 'rsync' })),
  policy: T.Optional(T.Union([T.Literal('equal'), T.Literal('upgrade'), T.Literal('downgrade'), T.Literal('always')], { default: 'equal' })),
  mirror: T.Optional(T.Boolean({ default: false, description: 'delete on the target what the source no longer has' })),
  protect: T.Optional(T.Array(AbsPath, { description: 'paths inside this item that sync never writes, deletes or renames' })),
  exclude: T.Optional(T.Array(T.String({ minLength: 1 }))),
  version: T.Optional(VersionSource),
  maxDelete: T.Optional(MaxDelete),
})

export const HealthCheck = Obj({
  protocol: T.Union([T.Literal('http'), T.Literal('tcp'), T.Literal('command')]),
  port: T.Optional(Port),
  path: T.Optional(T.String({ pattern: '^/' })),
  expectStatus: T.Optional(T.Integer({ minimum: 100, maximum: 599, default: 200 })),
  expectBody: T.Optional(T.String({ description: 'substring the body must contain; {node} is the node name' })),
  send: T.Optional(T.String({ description: 'tcp: bytes to send' })),
  expect: T.Optional(T.String({ description: 'tcp: substring expected back; {node} is the node name' })),
  command: T.Optional(T.String({ minLength: 1, description: 'command: run on the node, exit 0 is healthy' })),
  timeoutMs: T.Optional(Duration('', 2000)),
})

export const Service = Obj({
  name: Name,
  singleton: T.Optional(T.Boolean({ default: false, description: 'must run on exactly one node: the active one (the one live database rule)' })),
  start: T.String({ minLength: 1, description: 'command that starts it on a node' }),
  stop: T.String({ minLength: 1 }),
  status: T.String({ minLength: 1, description: 'exit 0 when running' }),
  checks: T.Array(HealthCheck, { minItems: 1 }),
})

export const Backup = Obj({
  name: Name,
  path: AbsPath,
  pattern: T.Optional(T.String({ minLength: 1, default: '*.tar.gz', description: 'glob of archive names in path' })),
  maxAgeHours: T.Optional(T.Number({ exclusiveMinimum: 0, default: 26 })),
  minBytes: T.Optional(T.Integer({ minimum: 0 })),
  maxBytes: T.Optional(T.Integer({ minimum: 0 })),
  checksumFile: T.Optional(T.String({ pattern: FILE_NAME, minLength: 1, description: 'sha256sum file beside the archives, e.g. SHA256SUMS' })),
  manifestSuffix: T.Optional(T.String({ minLength: 1, description: 'listing beside each archive (archive name + suffix)' })),
})

export const Archive = Obj({
  name: Name,
  path: AbsPath,
  maxAgeMinutes: T.Number({ exclusiveMinimum: 0 }),
})

export const ErrorLog = Obj({
  name: Name,
  path: AbsPath,
  patterns: T.Array(T.String({ minLength: 1 }), { minItems: 1, description: 'regular expressions of unusual errors' }),
  ignore: T.Optional(T.Array(T.String({ minLength: 1 }))),
})

export const Endpoint = Obj({
  name: Name,
  kind: T.Union([T.Literal('gateway'), T.Literal('database'), T.Literal('dependency'), T.Literal('peer')]),
  host: IpAny,
  port: T.Optional(Port),
  maxLatencyMs: T.Optional(T.Number({ exclusiveMinimum: 0 })),
})

export const Preconditions = Obj({
  maxClockSkewMs: T.Optional(T.Number({ exclusiveMinimum: 0, default: 500 })),
  maxLatencyMs: T.Optional(T.Number({ exclusiveMinimum: 0, default: 10 })),
  paths: T.Optional(T.Array(Obj({ path: AbsPath, type: T.Union([T.Literal('file'), T.Literal('dir')]) }))),
  identicalFiles: T.Optional(T.Array(AbsPath, { description: 'shared secrets and configs that must be identical on every node' })),
  endpoints: T.Optional(T.Array(Endpoint)),
})

export const Network = Obj({ name: Name, cidr: Cidr, gateway: T.Optional(IpAny) })

export const Provision = Obj({
  provider: T.Union([T.Literal('hcloud'), T.Literal('digitalocean')]),
  serverType: T.String({ minLength: 1 }),
  image: T.String({ minLength: 1 }),
  location: T.String({ minLength: 1, description: 'default location; nodes may override' }),
  sshPublicKey: T.Optional(T.String({ minLength: 1 })),
  sshPublicKeyFile: T.Optional(T.String({ pattern: FILE_NAME, minLength: 1 })),
  adminNetworks: T.Array(Cidr, { minItems: 1, description: 'networks allowed to reach SSH' }),
  servicePorts: T.Optional(T.Array(Obj({ port: Port, protocol: T.Union([T.Literal('tcp'), T.Literal('udp')]), sources: T.Optional(T.Array(Cidr)) }))),
  floatingIpv6: T.Optional(T.Boolean({ default: false })),
  labels: T.Optional(T.Record(T.String(), T.String())),
  tokenFile: T.Optional(FileName('API token file that import-stack writes into the floating-IP and fencing blocks (relative to the inventory); else HCLOUD_TOKEN / DIGITALOCEAN_TOKEN')),
})

export const Pair = Obj({
  name: Name,
  description: T.Optional(T.String()),
  primary: T.String({ description: 'preferred active node; failback returns to it' }),
  nodes: T.Array(Node, { minItems: 2 }),
  ssh: T.Optional(SshSettings),
  floatingIps: T.Optional(T.Array(FloatingIp)),
  fencing: T.Optional(Fencing),
  software: T.Optional(VersionSource),
  sync: T.Optional(Obj({
    items: T.Array(SyncItem),
    protected: T.Optional(T.Array(AbsPath, { description: 'paths sync never touches in any item (the CMM /.rhosts rule)' })),
    nodeKeyFile: T.Optional(AbsPath),
    nodeKnownHostsFile: T.Optional(AbsPath),
    maxDelete: T.Optional(MaxDelete),
  })),
  services: T.Optional(T.Array(Service)),
  backups: T.Optional(T.Array(Backup)),
  archives: T.Optional(T.Array(Archive)),
  errorLogs: T.Optional(T.Array(ErrorLog)),
  preconditions: T.Optional(Preconditions),
  networks: T.Optional(T.Array(Network)),
  stateDir: T.Optional(AbsPath),
  provision: T.Optional(Provision),
})

export const Lab = Obj({
  name: Name,
  subnet: Cidr,
  controller: Ipv4,
}, { description: 'build this inventory as a local lab (playbooks/lab.ts)' })

export const InventorySchema = T.Object({
  $schema: T.Optional(T.String()),
  version: T.Literal(1),
  defaults: T.Optional(Obj({ ssh: T.Optional(SshSettings) })),
  lab: T.Optional(Lab),
  pairs: T.Array(Pair, { minItems: 1 }),
}, {
  additionalProperties: false,
  $id: 'https://hapair.dev/schemas/inventory.schema.json',
  title: 'hapair inventory',
  description: 'Primary/secondary pairs: nodes, floating IPs, sync items, services, checks and preconditions',
})

export type Inventory = Static<typeof InventorySchema>
export type Pair = Static<typeof Pair>
export type Node = Static<typeof Node>
export type FloatingIp = Static<typeof FloatingIp>
export type SyncItem = Static<typeof SyncItem>
export type MaxDelete = Static<typeof MaxDelete>
export type Service = Static<typeof Service>
export type HealthCheck = Static<typeof HealthCheck>
export type Backup = Static<typeof Backup>
export type SshSettings = Static<typeof SshSettings>
export type VersionSource = Static<typeof VersionSource>
export type Endpoint = Static<typeof Endpoint>

/** The JSON Schema document as written to schemas/inventory.schema.json. */
export function schemaDocument(): Record<string, unknown> {
  // A union of literals becomes an enum: one readable error ("must be one of …") instead of one per branch.
  const strip = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(strip)
    if (s && typeof s === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(s)) out[k] = strip(v)
      const any = out.anyOf as Record<string, unknown>[] | undefined
      if (any && any.every((b) => 'const' in b)) {
        delete out.anyOf
        out.enum = any.map((b) => b.const)
      }
      return out
    }
    return s
  }
  const doc = strip(InventorySchema as TSchema) as Record<string, unknown>
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...doc }
}
