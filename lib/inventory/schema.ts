// The one source of the inventory's shape: the JSON Schema file in schemas/ is generated
// from this (npm run schema) and the TypeScript types are derived from it with Static<>,
// so there is no second hand-kept copy. A test fails when the committed JSON drifts.
import { CloneType, Type as T, type Static, type TSchema, type TObject, type TProperties } from '@sinclair/typebox'
import { ABS_PATH, FILE_NAME, MAX_TIMER_MS } from './patterns.ts'

const Obj = <P extends TProperties>(props: P, opts: { description?: string } = {}): TObject<P> => T.Object(props, { additionalProperties: false, ...opts })

/** A shared type with the property's own hover text (the type and its constraints unchanged). */
const D = <S extends TSchema>(s: S, description: string): S => CloneType(s, { description })

const Name = T.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,62}$', description: 'lower-case name: letters, digits, . _ -' })
const AbsPath = T.String({ pattern: ABS_PATH, minLength: 1, description: 'absolute path' })
const FileName = (description: string) => T.String({ pattern: FILE_NAME, minLength: 1, description })
const Port = T.Integer({ minimum: 1, maximum: 65535 })
const Ipv4 = T.String({ format: 'ipv4' })
const Ipv6 = T.String({ format: 'ipv6' })
const IpAny = T.Union([Ipv4, Ipv6])
const Cidr = T.String({ pattern: '^[0-9a-fA-F.:]+/[0-9]{1,3}$', description: 'address/prefix, e.g. 198.51.100.0/24' })
// 0 would time out at once; above Node's timer limit a timer fires at once too, and every node reads as unreachable.
const Duration = (desc: string, dflt?: number) =>
  T.Integer({
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: `${desc ? desc + '; ' : ''}milliseconds, 1 to ${MAX_TIMER_MS}`,
    ...(dflt !== undefined ? { default: dflt } : {}),
  })

/** One bastion on the way to a node; the controller reaches the first hop itself, each later one through the hop before. */
export const JumpHop = Obj(
  {
    address: T.Union([Ipv4, Ipv6, T.String({ format: 'hostname' })], {
      description: "the bastion's address (IPv4, IPv6 or DNS name) as the controller, or the hop before it, reaches it",
    }),
    name: T.Optional(D(Name, "the bastion's name in errors and reports (default: its address); its known_hosts line may name it too, as a node's may")),
    port: T.Optional(D(Port, 'SSH port of the bastion; default 22')),
    user: T.Optional(T.String({ minLength: 1, description: "login user on the bastion; default the node's ssh.user" })),
    keyFile: T.Optional(FileName("private key for the bastion (relative to the inventory file); default the node's ssh.keyFile")),
  },
  { description: "a bastion (SSH jump host); its host key is pinned in the same knownHostsFile as the nodes'" },
)

export const SshSettings = Obj(
  {
    user: T.Optional(T.String({ minLength: 1, default: 'root', description: 'login user on the node; default root' })),
    port: T.Optional(D(Port, 'SSH port of the node; default 22')),
    become: T.Optional(
      T.Union([T.Literal('none'), T.Literal('sudo')], {
        default: 'none',
        description:
          "how a non-root user gets root on the node: sudo runs every command through 'sudo -n /bin/sh -c' (no password prompt; see docs/inventory.md for the sudoers rule); default none (the user is root)",
      }),
    ),
    keyFile: T.Optional(FileName('private key; relative paths are resolved from the inventory file')),
    knownHostsFile: T.Optional(FileName("known_hosts that pins every node's host key (relative to the inventory file)")),
    connectTimeoutMs: T.Optional(Duration('TCP + handshake timeout', 5000)),
    commandTimeoutMs: T.Optional(Duration('default timeout of one remote command', 30000)),
    jump: T.Optional(
      T.Array(JumpHop, {
        maxItems: 8,
        description:
          'bastions the controller goes through to reach the node, first hop first (like ssh -J); each host key pinned in knownHostsFile; [] on a node or pair means direct. Node-to-node sync does not use them',
      }),
    ),
  },
  { description: 'How the controller reaches nodes over SSH; node settings override pair settings override defaults' },
)

/** Where a node reads a version number from: a file's first line or a command's stdout. */
export const VersionSource = Obj({
  file: T.Optional(D(AbsPath, 'absolute path of a file whose first line is the version, e.g. /opt/app/VERSION')),
  command: T.Optional(T.String({ minLength: 1, description: 'command run on the node (sh -c); its stdout, trimmed, is the version' })),
})

export const Node = Obj({
  name: D(Name, 'node name, unique in the pair (lower-case letters, digits, . _ -); used in commands (--to) and records'),
  // Optional only for a provisioned pair's nodes before import-stack (validate.ts, cli.ts requireAddresses).
  address: T.Optional(
    T.String({
      format: 'ipv4',
      description:
        'admin address: the controller reaches the node here (SSH), and so do its peers unless privateAddress is set; a node of a pair with a provision block may leave it out until import-stack writes it',
    }),
  ),
  privateAddress: T.Optional(
    D(
      Ipv4,
      "the node's address on the pair's private network: node-to-node traffic (sync, the probes a surviving node makes of the active) goes there, while the controller keeps using address; import-stack writes it from the stack's outputs",
    ),
  ),
  address6: T.Optional(D(Ipv6, 'admin IPv6 address of the node (optional)')),
  serviceAddress: T.Optional(D(Ipv4, "fixed IPv4 address the node's services listen on, besides the floating IPs; checks probe it (default: address)")),
  serviceAddress6: T.Optional(D(Ipv6, 'fixed IPv6 service address of the node (optional)')),
  interface: T.Optional(T.String({ pattern: '^[A-Za-z0-9_.@-]{1,15}$', default: 'eth0', description: 'interface that holds floating IPs' })),
  ssh: T.Optional(SshSettings),
  hcloud: T.Optional(
    Obj(
      { serverId: T.Integer({ minimum: 1, description: 'Hetzner Cloud server ID (fencing powers it off by this ID)' }) },
      { description: 'the node as a Hetzner Cloud server' },
    ),
  ),
  digitalocean: T.Optional(
    Obj(
      { dropletId: T.Integer({ minimum: 1, description: 'DigitalOcean droplet ID (fencing powers it off by this ID)' }) },
      { description: 'the node as a DigitalOcean droplet' },
    ),
  ),
  provision: T.Optional(
    Obj(
      {
        location: T.Optional(
          T.String({ minLength: 1, description: 'provider location or region for this node, e.g. fsn1 or fra1; default provision.location' }),
        ),
        serverType: T.Optional(T.String({ minLength: 1, description: 'provider server type or droplet size for this node; default provision.serverType' })),
        image: T.Optional(T.String({ minLength: 1, description: 'provider OS image for this node; default provision.image' })),
      },
      { description: "per-node overrides of the pair's provision block (Pulumi)" },
    ),
  ),
})

const ApiCredentials = {
  tokenFile: T.Optional(FileName('file holding the API token; else the environment variable')),
  apiUrl: T.Optional(T.String({ format: 'uri', description: 'API base URL (tests point it at a local fake)' })),
}

export const FloatingIp = Obj({
  name: T.Optional(D(Name, 'label for this floating IP in reports (default: the address)')),
  address: D(IpAny, 'the floating (service) IPv4 or IPv6 address that moves to the active node'),
  prefix: T.Optional(T.Integer({ minimum: 1, maximum: 128, description: 'prefix length used when the OS holds the address; default 32 (IPv4) / 64 (IPv6)' })),
  driver: T.Union([T.Literal('linux'), T.Literal('hcloud'), T.Literal('digitalocean')], { description: 'what moves the address' }),
  interface: T.Optional(T.String({ pattern: '^[A-Za-z0-9_.@-]{1,15}$', description: "interface that holds this address; default the node's interface" })),
  hcloud: T.Optional(
    Obj(
      { floatingIpId: T.Integer({ minimum: 1, description: 'Hetzner Cloud floating IP ID' }), ...ApiCredentials },
      { description: 'driver hcloud: which floating IP, and the API credentials' },
    ),
  ),
  digitalocean: T.Optional(Obj({ ...ApiCredentials }, { description: 'driver digitalocean: the API credentials (the reserved IP is the address)' })),
})

export const Fencing = Obj({
  driver: T.Union([T.Literal('lab'), T.Literal('hcloud'), T.Literal('digitalocean'), T.Literal('lease'), T.Literal('none')], {
    description:
      'how an unreachable node is made safe before its address is taken: powered off (lab, hcloud, digitalocean) or stepped down by its own guard when its lease runs out (lease)',
  }),
  hcloud: T.Optional(Obj({ ...ApiCredentials }, { description: 'driver hcloud: API credentials used to power off a node' })),
  digitalocean: T.Optional(Obj({ ...ApiCredentials }, { description: 'driver digitalocean: API credentials used to power off a node' })),
  lease: T.Optional(
    Obj(
      {
        leaseMs: T.Optional(Duration('how long a renewal lets the active node keep its floating IPs and singletons', 1000)),
        marginMs: T.Optional(Duration('waited beyond the lease (plus the clock-skew bound) before a node counts as stepped down', 300)),
        renewMs: T.Optional(Duration("how often the watcher renews the active node's lease", 200)),
        watchdog: T.Optional(
          Obj(
            {
              device: T.Optional(
                T.String({
                  pattern: ABS_PATH,
                  minLength: 1,
                  default: '/dev/watchdog',
                  description: 'the watchdog device the guard holds open and pets (softdog or hardware); default /dev/watchdog',
                }),
              ),
              timeoutMs: Duration(
                'the timeout the device is set to (softdog: soft_margin, in whole seconds); a taker waits at least this long past the lease, because a guard that stalls is reset by then',
              ),
            },
            {
              description:
                'the guard pets a kernel watchdog only while its lease is fresh or it has given everything up, so a node whose guard stalls (a starved CPU, a hung disk) is reset within timeoutMs instead of holding on',
            },
          ),
        ),
      },
      { description: 'lease self-fencing: a guard on every node (playbooks/guard.ts) releases the IPs and stops the singletons when the lease is not renewed' },
    ),
  ),
})

const Ms = (desc: string, dflt: number) => T.Optional(Duration(desc, dflt))

/** The watcher's timers and policies (playbooks/watch.ts); defaults, then per pair. */
export const Watch = Obj(
  {
    intervalMs: Ms('time between liveness probes of each node (ICMP echo, independent per probe)', 20),
    deadAfterMs: Ms('a node is suspected when no probe has answered for this long', 150),
    checkIntervalMs: Ms('time between service checks (each node, each floating IP)', 500),
    hungAfterMs: Ms('a node that answers probes but whose every check and SSH command fail for this long counts as hung (fenced like a dead one)', 1500),
    holdDownMs: Ms('no automatic takeover for this long after one', 60000),
    maxTakeoversPerHour: T.Optional(
      T.Integer({ minimum: 0, maximum: 100, default: 2, description: 'automatic takeovers allowed per pair per hour; 0 means alert only' }),
    ),
    autoFailback: T.Optional(
      T.Boolean({ default: false, description: 'take the service back to the preferred primary automatically when it returns healthy' }),
    ),
    onServiceFailure: T.Optional(
      T.Union([T.Literal('restart'), T.Literal('failover'), T.Literal('alert')], {
        default: 'restart',
        description: 'a declared service fails on a live active node: restart it (then fail over after maxRestarts), fail over at once, or alert only',
      }),
    ),
    maxRestarts: T.Optional(
      T.Integer({ minimum: 0, maximum: 100, default: 3, description: 'restarts of one failing service (per hour) before the policy escalates to failover' }),
    ),
    serviceFailAfterMs: Ms("a service check must fail this long before the service policy acts (and the service's status command must say it is down)", 3000),
    hooks: T.Optional(
      Obj(
        {
          command: T.Optional(T.String({ minLength: 1, description: 'run for every event with the event as JSON on stdin (sh -c)' })),
          webhook: T.Optional(T.String({ format: 'uri', description: 'URL that every event is POSTed to as JSON' })),
          retries: T.Optional(T.Integer({ minimum: 0, maximum: 10, default: 3, description: 'bounded retries for a failed hook' })),
        },
        { description: 'where the watcher reports its events (failover, restart, alert): a command, a webhook, or both' },
      ),
    ),
    metrics: T.Optional(
      Obj(
        {
          port: D(Port, 'TCP port of the Prometheus endpoint'),
          address: T.Optional(T.String({ format: 'ipv4', default: '127.0.0.1', description: 'listen address of the Prometheus endpoint' })),
        },
        { description: 'serve Prometheus metrics at http://address:port/metrics' },
      ),
    ),
  },
  { description: 'automatic failover (playbooks/watch.ts): probe timers, thresholds and policies' },
)

/**
 * How much a mirror sync may delete on a target before it refuses (exit 3) and lists what would
 * go; --force lifts it. Defaults (lib/sync/delete-guard.ts): 1000 files, or a fifth of the files
 * the target holds in the item once more than 10 would go. A failover to a stale node followed
 * by a plain sync is how a mirror deletes the newer data from every other node.
 */
export const MaxDelete = Obj(
  {
    count: T.Optional(
      T.Integer({ minimum: 0, default: 1000, description: 'most files one sync may delete from a target in this item; 0: none without --force' }),
    ),
    share: T.Optional(
      T.Number({
        minimum: 0,
        maximum: 1,
        default: 0.2,
        description: 'most deleted files as a share of the files the target holds in the item (applies once more than 10 would go)',
      }),
    ),
  },
  { description: 'limit on mirror deletions per item and target; over it the sync refuses and lists the paths (--force lifts it)' },
)

export const SyncItem = Obj({
  name: D(Name, 'item name, unique in the pair; used by --item and in reports'),
  path: D(AbsPath, 'absolute directory synced from the active node to the same path on the others'),
  description: T.Optional(T.String({ description: 'free text for people; hapair does not read it' })),
  priority: T.Optional(T.Integer({ default: 0, description: 'higher runs first' })),
  transport: T.Optional(
    T.Union([T.Literal('rsync'), T.Literal('sftp')], {
      default: 'rsync',
      description: 'rsync: node to node over the pinned hop (default); sftp: through the controller, for targets without rsync',
    }),
  ),
  policy: T.Optional(
    T.Union([T.Literal('equal'), T.Literal('upgrade'), T.Literal('downgrade'), T.Literal('always')], {
      default: 'equal',
      description: 'version policy: sync when versions are equal (default), source lower or equal (upgrade), source higher or equal (downgrade), or always',
    }),
  ),
  mirror: T.Optional(T.Boolean({ default: false, description: 'delete on the target what the source no longer has' })),
  protect: T.Optional(T.Array(AbsPath, { description: 'paths inside this item that sync never writes, deletes or renames' })),
  exclude: T.Optional(T.Array(T.String({ minLength: 1 }), { description: 'rsync-style exclude patterns (relative to path): never sent and never deleted' })),
  version: T.Optional(D(VersionSource, "where this item's data version is read on each node; the policy compares it (default: the pair's software version)")),
  maxDelete: T.Optional(MaxDelete),
})

export const HealthCheck = Obj({
  protocol: T.Union([T.Literal('http'), T.Literal('tcp'), T.Literal('command')], {
    description: 'http: GET path on port; tcp: connect (and send/expect); command: run on the node',
  }),
  port: T.Optional(D(Port, "http and tcp: TCP port probed on the node's service address and each floating IP")),
  path: T.Optional(T.String({ pattern: '^/', description: 'http: request path, starting with /' })),
  expectStatus: T.Optional(T.Integer({ minimum: 100, maximum: 599, default: 200, description: 'http: status code that counts as healthy; default 200' })),
  expectBody: T.Optional(T.String({ description: 'substring the body must contain; {node} is the node name' })),
  send: T.Optional(T.String({ description: 'tcp: bytes to send' })),
  expect: T.Optional(T.String({ description: 'tcp: substring expected back; {node} is the node name' })),
  command: T.Optional(T.String({ minLength: 1, description: 'command: run on the node, exit 0 is healthy' })),
  timeoutMs: T.Optional(Duration('how long one check may take before it fails', 2000)),
})

/**
 * A PostgreSQL service (kind postgresql): streaming replication between the pair's nodes. The
 * service's start/stop/status commands start, stop and report the server process; "the
 * singleton runs on a node" means it runs there as the primary (lib/postgres/).
 */
export const Postgresql = Obj(
  {
    dataDir: AbsPath,
    port: T.Optional(T.Integer({ minimum: 1, maximum: 65535, default: 5432, description: 'TCP port the server listens on; default 5432' })),
    binDir: T.Optional(
      T.String({
        pattern: ABS_PATH,
        minLength: 1,
        default: '/usr/lib/postgresql/15/bin',
        description: 'where pg_ctl, psql, pg_controldata, pg_rewind and pg_basebackup are',
      }),
    ),
    osUser: T.Optional(
      T.String({
        pattern: '^[a-z_][a-z0-9_-]{0,31}$',
        default: 'postgres',
        description: 'operating-system user the server runs as (psql connects as it over the local socket)',
      }),
    ),
    socketDir: T.Optional(T.String({ pattern: ABS_PATH, minLength: 1, default: '/var/run/postgresql', description: 'unix_socket_directories of the server' })),
    replicationUser: T.Optional(
      T.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$', default: 'replicator', description: 'role the standbys stream (and pg_rewind reads) as' }),
    ),
    passwordFile: T.String({
      pattern: ABS_PATH,
      minLength: 1,
      description: 'on every node: a .pgpass-format line (*:*:*:USER:PASSWORD) readable only by osUser; libpq reads it, hapair never does',
    }),
    mode: T.Optional(
      T.Union([T.Literal('sync'), T.Literal('async')], {
        default: 'async',
        description: 'sync: a commit is acknowledged once a standby flushed it (synchronous_standby_names); async: once the primary did',
      }),
    ),
    maxLagBytes: T.Optional(
      T.Integer({
        minimum: 0,
        default: 16 * 1024 * 1024,
        description: 'most WAL a target may lack (primary flush - target replay) for a failover; unplanned: what may be lost',
      }),
    ),
    slotPrefix: T.Optional(
      T.String({ pattern: '^[a-z0-9_]{1,40}$', default: 'hapair_', description: 'replication slot of each standby: prefix + node name (- and . become _)' }),
    ),
    replayTimeoutMs: T.Optional(Duration("how long a planned switchover waits for the target to replay the old primary's last WAL", 10000)),
  },
  { description: 'PostgreSQL streaming replication: data directory, port, replication role and mode' },
)

export const Service = Obj({
  name: D(Name, 'service name, unique in the pair; used in checks and reports'),
  singleton: T.Optional(T.Boolean({ default: false, description: 'must run on exactly one node: the active one (the one live database rule)' })),
  start: T.String({ minLength: 1, description: 'command that starts it on a node' }),
  stop: T.String({ minLength: 1, description: 'command that stops it on a node' }),
  status: T.String({ minLength: 1, description: 'command that exits 0 when it is running on the node' }),
  checks: T.Array(HealthCheck, { minItems: 1, description: 'health checks; all must pass for the service to count as healthy (at least one)' }),
  postgresql: T.Optional(D(Postgresql, 'kind postgresql: streaming replication between the nodes; start/stop/status run the server process')),
})

/**
 * A backup made by `pg_basebackup -Ft -z -D <path>/<name>`: each backup is a directory of
 * base.tar.gz, pg_wal.tar.gz and backup_manifest. With --restore, backup-verify extracts the
 * newest into a scratch directory on the node and starts a throwaway server on it (lib/backup/postgres.ts).
 */
export const PgBackup = Obj(
  {
    binDir: T.Optional(
      T.String({
        pattern: ABS_PATH,
        minLength: 1,
        default: '/usr/lib/postgresql/15/bin',
        description: "where postgres, pg_ctl, pg_isready, psql and pg_verifybackup of the backup's major version are",
      }),
    ),
    osUser: T.Optional(
      T.String({
        pattern: '^[a-z_][a-z0-9_-]{0,31}$',
        default: 'postgres',
        description: 'operating-system user the throwaway server runs as; the query connects as the role of the same name',
      }),
    ),
    database: T.Optional(T.String({ pattern: '^[^\\u0000]+$', maxLength: 63, default: 'postgres', description: 'database the query runs in' })),
    query: T.Optional(
      T.String({
        pattern: '^[^\\u0000]+$',
        default: 'SELECT 1',
        description: 'SQL run on the restored server; it passes when the first value it returns is a number above 0 or true, e.g. SELECT count(*) FROM orders',
      }),
    ),
    startTimeoutMs: T.Optional(Duration("how long the throwaway server may take to replay the backup's WAL and accept connections", 600000)),
    queryTimeoutMs: T.Optional(Duration('statement_timeout of the query', 60000)),
  },
  {
    description:
      'the backups are pg_basebackup -Ft directories under path; --restore starts a throwaway PostgreSQL (no TCP listener) on the newest and runs the query',
  },
)

export const Backup = Obj({
  name: D(Name, 'backup name, used in check reports'),
  path: D(AbsPath, 'absolute directory on each node that holds the archives'),
  pattern: T.Optional(
    T.String({ minLength: 1, description: "glob of archive names in path, default *.tar.gz; with postgresql, of the backup directories' names, default *" }),
  ),
  maxAgeHours: T.Optional(
    T.Number({ exclusiveMinimum: 0, default: 26, description: 'newest archive must have finished (mtime, node clock) within this many hours; default 26' }),
  ),
  minBytes: T.Optional(
    T.Integer({ minimum: 0, description: 'smallest size of the newest archive in bytes (smaller: empty or truncated backup); no lower bound if unset' }),
  ),
  maxBytes: T.Optional(T.Integer({ minimum: 0, description: 'largest size of the newest archive in bytes; no upper bound if unset' })),
  checksumFile: T.Optional(T.String({ pattern: FILE_NAME, minLength: 1, description: 'sha256sum file beside the archives, e.g. SHA256SUMS' })),
  manifestSuffix: T.Optional(T.String({ minLength: 1, description: 'listing beside each archive (archive name + suffix)' })),
  postgresql: T.Optional(PgBackup),
})

export const Archive = Obj({
  name: D(Name, 'archive name, used in check reports'),
  path: D(AbsPath, 'absolute directory that continuously receives files (e.g. WAL archive)'),
  maxAgeMinutes: T.Number({ exclusiveMinimum: 0, description: 'a file must have arrived within this many minutes (node clock), else archiving has stopped' }),
})

export const ErrorLog = Obj({
  name: D(Name, 'log name, used in check reports'),
  path: D(AbsPath, 'absolute path of the log file scanned on each node'),
  patterns: T.Array(T.String({ minLength: 1 }), { minItems: 1, description: 'regular expressions of unusual errors' }),
  ignore: T.Optional(T.Array(T.String({ minLength: 1 }), { description: 'regular expressions of lines to ignore even when a pattern matches' })),
})

export const Endpoint = Obj({
  name: D(Name, 'endpoint name, used in check reports'),
  kind: T.Union([T.Literal('gateway'), T.Literal('database'), T.Literal('dependency'), T.Literal('peer')], {
    description: 'what the endpoint is, shown in reports: gateway, database, dependency or peer',
  }),
  host: D(IpAny, 'IPv4 or IPv6 address every node must reach'),
  port: T.Optional(D(Port, 'TCP port to connect to; without it the endpoint is pinged (ICMP)')),
  maxLatencyMs: T.Optional(
    T.Number({ exclusiveMinimum: 0, description: 'most round-trip time to this endpoint in milliseconds; default preconditions.maxLatencyMs' }),
  ),
})

export const Preconditions = Obj({
  maxClockSkewMs: T.Optional(
    T.Number({
      exclusiveMinimum: 0,
      default: 500,
      description: 'most clock difference between a node and the controller in milliseconds (round trip corrected); default 500',
    }),
  ),
  maxLatencyMs: T.Optional(
    T.Number({
      exclusiveMinimum: 0,
      default: 10,
      description: 'most round-trip time to an endpoint in milliseconds, unless the endpoint sets its own; default 10',
    }),
  ),
  paths: T.Optional(
    T.Array(
      Obj({
        path: D(AbsPath, 'absolute path that must exist on every node'),
        type: T.Union([T.Literal('file'), T.Literal('dir')], { description: 'what the path must be: a file or a directory' }),
      }),
      { description: 'paths that must exist, with the same type, on every node' },
    ),
  ),
  identicalFiles: T.Optional(T.Array(AbsPath, { description: 'shared secrets and configs that must be identical on every node' })),
  endpoints: T.Optional(T.Array(Endpoint, { description: 'gateways, databases and other hosts every node must reach (TCP or ping) within the latency limit' })),
})

export const Network = Obj({
  name: D(Name, 'network name'),
  cidr: D(Cidr, "the network's address/prefix, e.g. 198.51.100.0/24"),
  gateway: T.Optional(D(IpAny, 'default gateway on this network (optional)')),
})

export const Provision = Obj({
  provider: T.Union([T.Literal('hcloud'), T.Literal('digitalocean')], {
    description: 'cloud the Pulumi stack creates the pair in: hcloud (Hetzner) or digitalocean',
  }),
  serverType: T.String({ minLength: 1, description: 'server type or droplet size, e.g. cx22 or s-1vcpu-1gb; nodes may override' }),
  image: T.String({ minLength: 1, description: 'OS image, e.g. debian-12; nodes may override' }),
  location: T.String({ minLength: 1, description: 'default location; nodes may override' }),
  sshPublicKey: T.Optional(T.String({ minLength: 1, description: 'OpenSSH public key line installed for SSH access on new servers' })),
  sshPublicKeyFile: T.Optional(
    T.String({ pattern: FILE_NAME, minLength: 1, description: 'file holding that public key instead (relative to the inventory file)' }),
  ),
  sshKey: T.Optional(
    Obj(
      {
        name: T.Optional(T.String({ minLength: 1, description: "the key's name in the project" })),
        id: T.Optional(T.Integer({ minimum: 1, description: "the key's id in the project" })),
      },
      {
        description:
          'an SSH key already in the provider project, by name or id: used as it is, instead of creating one from sshPublicKey (a provider refuses the same key twice)',
      },
    ),
  ),
  adminNetworks: T.Array(Cidr, { minItems: 1, description: 'networks allowed to reach SSH' }),
  servicePorts: T.Optional(
    T.Array(
      Obj({
        port: D(Port, 'port opened in the firewall'),
        protocol: T.Union([T.Literal('tcp'), T.Literal('udp')], { description: 'tcp or udp' }),
        sources: T.Optional(T.Array(Cidr, { description: 'networks allowed in; default anywhere' })),
      }),
      { description: 'firewall openings for the services, besides SSH' },
    ),
  ),
  floatingIpv6: T.Optional(T.Boolean({ default: false, description: 'also create an IPv6 floating IP (hcloud only); default false' })),
  labels: T.Optional(T.Record(T.String(), T.String(), { description: 'labels (key: value) put on every created resource' })),
  tokenFile: T.Optional(
    FileName(
      'API token file that import-stack writes into the floating-IP and fencing blocks (relative to the inventory); else HCLOUD_TOKEN / DIGITALOCEAN_TOKEN',
    ),
  ),
})

export const Pair = Obj({
  name: D(Name, 'pair name, unique in the inventory; used by --pair'),
  description: T.Optional(T.String({ description: 'free text for people; hapair does not read it' })),
  primary: T.String({ description: 'preferred active node; failback returns to it' }),
  nodes: T.Array(Node, { minItems: 2, description: 'the servers of the pair (at least two): the primary and its secondaries' }),
  ssh: T.Optional(SshSettings),
  floatingIps: T.Optional(T.Array(FloatingIp, { description: 'service addresses held by the active node and moved on failover' })),
  fencing: T.Optional(D(Fencing, 'how an unreachable node is made safe before its floating IPs are taken; without it nothing fences')),
  software: T.Optional(D(VersionSource, "where each node's software version is read; sync's version policy compares it")),
  sync: T.Optional(
    Obj(
      {
        items: T.Array(SyncItem, { description: 'directories copied from the active node to the others, highest priority first' }),
        protected: T.Optional(T.Array(AbsPath, { description: 'paths sync never touches in any item (the CMM /.rhosts rule)' })),
        nodeKeyFile: T.Optional(AbsPath),
        nodeKnownHostsFile: T.Optional(AbsPath),
        maxDelete: T.Optional(MaxDelete),
      },
      { description: 'what sync copies, and the node-to-node hop it uses' },
    ),
  ),
  services: T.Optional(T.Array(Service, { description: 'services on the nodes: how to start, stop and check them; singletons run only on the active node' })),
  backups: T.Optional(T.Array(Backup, { description: 'backup directories verify checks for a fresh archive of sane size' })),
  archives: T.Optional(T.Array(Archive, { description: 'directories that must keep receiving files (WAL or log archiving)' })),
  errorLogs: T.Optional(T.Array(ErrorLog, { description: 'logs verify scans for unusual errors' })),
  preconditions: T.Optional(D(Preconditions, 'what must hold before a failover: clock skew, latency, paths, identical files, reachable endpoints')),
  networks: T.Optional(T.Array(Network, { description: 'networks the nodes are attached to' })),
  stateDir: T.Optional(
    D(AbsPath, "absolute directory on each node for hapair's records (epoch, lock, sync and degraded state); default /var/lib/hapair/<pair>"),
  ),
  provision: T.Optional(D(Provision, 'how the Pulumi stack creates the pair in a cloud')),
  watch: T.Optional(Watch),
})

export const Lab = Obj(
  {
    name: D(Name, 'lab name; prefixes its network namespaces'),
    subnet: D(Cidr, 'lab network address/prefix, e.g. 198.51.100.0/24'),
    controller: D(Ipv4, "the controller's address in the lab network"),
    bastions: T.Optional(
      T.Array(
        Obj(
          {
            name: D(Name, "the bastion's name: its namespace is hp-<lab>-<name>, and lab fault and lab exec take it like a node's"),
            address: D(Ipv4, "the bastion's address in the lab network; its sshd listens on port 22"),
          },
          {
            description:
              "a bastion host: a namespace with sshd (the controller's key authorized, its host key pinned in the lab's known_hosts) and nothing else",
          },
        ),
        { maxItems: 4, description: 'extra hosts the lab builds for ssh.jump to go through' },
      ),
    ),
  },
  { description: 'build this inventory as a local lab (playbooks/lab.ts)' },
)

export const InventorySchema = T.Object(
  {
    $schema: T.Optional(T.String({ description: 'path or URL of this schema, so editors validate and explain the file' })),
    version: T.Literal(1, { description: 'inventory format version; must be 1' }),
    defaults: T.Optional(
      Obj({ ssh: T.Optional(SshSettings), watch: T.Optional(Watch) }, { description: 'settings every pair inherits unless it sets its own' }),
    ),
    lab: T.Optional(Lab),
    pairs: T.Array(Pair, { minItems: 1, description: 'the primary/secondary pairs (at least one)' }),
  },
  {
    additionalProperties: false,
    $id: 'https://hapair.dev/schemas/inventory.schema.json',
    title: 'hapair inventory',
    description: 'Primary/secondary pairs: nodes, floating IPs, sync items, services, checks and preconditions',
  },
)

/**
 * The inventory as the playbooks use it: every node has its address. The schema lets the nodes
 * of a pair with a provision block leave it out until import-stack writes it; the playbooks
 * refuse such an inventory before they use it (cli.ts inventoryFrom, exit 2), and the code that
 * runs before (validate, the stacks, import-stack) must read a node as an UnresolvedNode.
 */
export type UnresolvedNode = Static<typeof Node>
export type Node = Omit<UnresolvedNode, 'address'> & { address: string }
export type Pair = Omit<Static<typeof Pair>, 'nodes'> & { nodes: Node[] }
export type Inventory = Omit<Static<typeof InventorySchema>, 'pairs'> & { pairs: Pair[] }
export type FloatingIp = Static<typeof FloatingIp>
export type SyncItem = Static<typeof SyncItem>
export type MaxDelete = Static<typeof MaxDelete>
export type Service = Static<typeof Service>
export type Postgresql = Static<typeof Postgresql>
export type HealthCheck = Static<typeof HealthCheck>
export type Backup = Static<typeof Backup>
export type PgBackup = Static<typeof PgBackup>
export type SshSettings = Static<typeof SshSettings>
export type JumpHop = Static<typeof JumpHop>
export type VersionSource = Static<typeof VersionSource>
export type Endpoint = Static<typeof Endpoint>
export type Watch = Static<typeof Watch>
export type Fencing = Static<typeof Fencing>

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
