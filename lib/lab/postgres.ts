// Real PostgreSQL in the lab, for pairs whose inventory declares a postgresql service: the
// primary on the preferred node (initdb into the node's private /var/lib), a streaming standby
// with its own slot on every other node (pg_basebackup through lib/postgres, the same path a
// rejoin takes). Processes die with the node's namespace at `lab down`; the data goes with its
// state directory. Servers are started by /var/lib/lab/bin/pg, the service's start command.
import { randomBytes } from 'node:crypto'
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { HapairError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import type { Pair, Service } from '../inventory/schema.ts'
import { pgService, pgSettings, type PgSettings } from '../postgres/config.ts'
import { base, DROP_STALE_PIDFILE, PRELUDE, psql, sqlString, type Exec } from '../postgres/exec.ts'
import { rejoinAsStandby, setSyncStandbys } from '../postgres/standby.ts'
import { nodeExec, nodePaths } from './node.ts'
import type { LabPlan, NodePlan } from './plan.ts'

export const PG_CTL_SCRIPT = '/var/lib/lab/bin/pg'

/** The demo pair's PostgreSQL service (the inventory's db when it uses real PostgreSQL). */
export function labPgService(mode: 'sync' | 'async' = 'sync', extra: Partial<Service['postgresql']> = {}): Service {
  return {
    name: 'db',
    singleton: true,
    start: `${PG_CTL_SCRIPT} start`,
    stop: `${PG_CTL_SCRIPT} stop`,
    status: `${PG_CTL_SCRIPT} status`,
    checks: [
      { protocol: 'tcp', port: 5432, timeoutMs: 2000 },
      { protocol: 'command', command: `${PG_CTL_SCRIPT} primary` },
    ],
    postgresql: {
      dataDir: '/var/lib/postgresql/15/lab',
      port: 5432,
      passwordFile: '/var/lib/postgresql/hapair-replication.pgpass',
      replicationUser: 'replicator',
      mode,
      maxLagBytes: 16 * 1024 * 1024,
      ...extra,
    },
  }
}

/** start|stop|status|primary, like the lab's svc: idempotent; status exits 3 when stopped. */
export function pgCtlScript(pg: PgSettings): string {
  const q = (s: string | number) => `'${String(s).replace(/'/g, `'\\''`)}'`
  return `#!/bin/sh
# Lab PostgreSQL control (installed by playbooks/lab.ts): pg start|stop|status|primary
B=${q(pg.binDir)} D=${q(pg.dataDir)} U=${q(pg.osUser)} S=${q(pg.socketDir)} P=${q(pg.port)}
cd /
as() { runuser -u "$U" -- "$@"; }
# A zombie postmaster (killed with its node, not yet reaped by init) is not a running server.
up() { ${DROP_STALE_PIDFILE} && as "$B/pg_ctl" status -D "$D" >/dev/null 2>&1; }
case \${1:-} in
  status) if up; then echo "postgresql running"; exit 0; fi; echo "postgresql stopped"; exit 3 ;;
  primary) r=$(as "$B/psql" -XAtq -h "$S" -p "$P" -d postgres -c 'select pg_is_in_recovery()' 2>&1) || { echo "$r"; exit 3; }
    [ "$r" = f ] && { echo primary; exit 0; }; echo standby; exit 3 ;;
  start)
    if up; then echo "postgresql already running"; exit 0; fi
    # /run is a fresh tmpfs after every power-on
    mkdir -p "$S" /var/log/postgresql && chown "$U:" "$S" /var/log/postgresql && chmod 2775 "$S"
    as "$B/pg_ctl" start -D "$D" -w -t 120 -s -l /var/log/postgresql/lab.log || { tail -n 8 /var/log/postgresql/lab.log >&2; exit 1; } ;;
  stop)
    if ! up; then echo "postgresql already stopped"; exit 0; fi
    # fast shutdown (SIGINT): disconnect clients, write the shutdown checkpoint, let the standbys
    # receive it. Polled every 10 ms: pg_ctl stop -w looks every 100 ms, while nobody can write.
    pid=$(head -n 1 "$D/postmaster.pid" 2>/dev/null)
    case $pid in ''|*[!0-9]*) as "$B/pg_ctl" stop -D "$D" -m fast -w -t 120 -s; exit ;; esac
    kill -INT "$pid" || exit 1
    i=0
    # an exited postmaster may linger as a zombie until init reaps it: an empty cmdline is gone
    while grep -q . "/proc/$pid/cmdline" 2>/dev/null && [ $i -lt 12000 ]; do sleep 0.01; i=$((i+1)); done
    if grep -q . "/proc/$pid/cmdline" 2>/dev/null; then echo "postgresql (pid $pid) did not stop in 120 s" >&2; exit 1; fi
    echo "postgresql stopped" ;;
  *) echo "usage: pg start|stop|status|primary" >&2; exit 2 ;;
esac
`
}

export function labExec(n: NodePlan): Exec {
  return (script, args, opts = {}) =>
    nodeExec(n, ['sh', '-c', script, 'lab-pg', ...args.map(String)], { timeoutMs: opts.timeoutMs ?? 60000, input: opts.input })
}

/** postgresql.conf additions: what replication and pg_rewind need, sized for a small lab. */
export function labPgConf(pg: PgSettings): string {
  return [
    '# hapair lab',
    "listen_addresses = '*'",
    `port = ${pg.port}`,
    `unix_socket_directories = '${pg.socketDir}'`,
    'wal_level = replica',
    'wal_log_hints = on',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    "wal_keep_size = '128MB'",
    'hot_standby = on',
    'hot_standby_feedback = on',
    "wal_receiver_status_interval = '1s'",
    "wal_retrieve_retry_interval = '50ms'",
    "shared_buffers = '16MB'",
    'max_connections = 40',
    "dynamic_shared_memory_type = 'posix'",
    "log_line_prefix = '%m [%p] '",
    "lc_messages = 'C'",
    '',
  ].join('\n')
}

export function labPgHba(pg: PgSettings, pair: Pair, controller: string): string {
  const lines = ['# hapair lab', 'local all all peer']
  for (const n of pair.nodes) {
    lines.push(`host replication ${pg.replicationUser} ${n.address}/32 scram-sha-256`)
    lines.push(`host postgres ${pg.replicationUser} ${n.address}/32 scram-sha-256`)
  }
  // The lab's test client writes as "app" from the controller; a lab has no secrets worth a password.
  lines.push(`host app app ${controller}/32 trust`)
  return lines.join('\n') + '\n'
}

const PREP = `${PRELUDE}
R=$1 SECRET=$2 PASS=$3
chmod 755 /var/lib /var/log
mkdir -p /var/lib/postgresql /var/log/postgresql "$S"
chown "$U:" /var/lib/postgresql /var/log/postgresql "$S"
mkdir -p "$(dirname "$PASS")"
umask 077
printf '*:*:*:%s:%s\\n' "$R" "$SECRET" >"$PASS"
chown "$U:" "$PASS"
install -d -o "$U" -g "$U" -m 700 "$(dirname "$D")"
`

const INITDB = `${PRELUDE}
CONF=$1 HBA=$2
install -d -o "$U" -g "$U" -m 700 "$D"
as "$B/initdb" -D "$D" -U postgres -A peer --auth-host=scram-sha-256 -E UTF8 --locale=C --wal-segsize=1 -N --no-instructions >/dev/null || exit 1
printf '%s' "$CONF" >>"$D/postgresql.conf"
printf '%s' "$HBA" >"$D/pg_hba.conf"
chown "$U:" "$D/postgresql.conf" "$D/pg_hba.conf"
`

async function must(exec: Exec, what: string, script: string, args: (string | number)[]): Promise<string> {
  const r = await exec(script, args)
  if (r.code !== 0) throw new HapairError(`lab postgres: ${what} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`)
  return r.stdout
}

/** Installs the control script on every node of pairs with a postgresql service (part of the files step). */
export function installPgControl(inv: LoadedInventory, n: NodePlan): void {
  const pair = inv.data.pairs.find((p) => p.name === n.pair)!
  const svc = pgService(pair)
  if (!svc) return
  const file = path.join(nodePaths(n).labDir, 'bin', 'pg')
  writeFileSync(file, pgCtlScript(pgSettings(svc.postgresql)))
  chmodSync(file, 0o755)
}

/** Builds each pair's cluster; one line for `lab up`. */
export async function buildLabPostgres(inv: LoadedInventory, plan: LabPlan): Promise<string> {
  const done: string[] = []
  for (const pair of inv.data.pairs) {
    const svc = pgService(pair)
    if (!svc) continue
    const pg = pgSettings(svc.postgresql)
    const nodes = plan.nodes.filter((n) => n.pair === pair.name)
    for (const n of nodes) installPgControl(inv, n)
    const primary = nodes.find((n) => n.primary)!
    const pExec = labExec(primary)
    const secret = randomBytes(18).toString('base64url')
    await Promise.all(nodes.map((n) => must(labExec(n), `prepare ${n.name}`, PREP, [...base(pg), pg.replicationUser, secret, pg.passwordFile])))
    await must(pExec, `initdb on ${primary.name}`, INITDB, [...base(pg), labPgConf(pg), labPgHba(pg, pair, plan.controller)])
    await must(pExec, `start ${primary.name}`, `${PG_CTL_SCRIPT} start`, [])
    await psql(pExec, pg, `CREATE ROLE ${pg.replicationUser} WITH REPLICATION LOGIN PASSWORD ${sqlString(secret)}`)
    // What pg_rewind reads from its source, granted instead of superuser.
    for (const f of [
      'pg_ls_dir(text, boolean, boolean)',
      'pg_stat_file(text, boolean)',
      'pg_read_binary_file(text)',
      'pg_read_binary_file(text, bigint, bigint, boolean)',
    ]) {
      await psql(pExec, pg, `GRANT EXECUTE ON FUNCTION pg_catalog.${f} TO ${pg.replicationUser}`)
    }
    await psql(pExec, pg, 'CREATE ROLE app LOGIN')
    await psql(pExec, pg, 'CREATE DATABASE app OWNER app')
    const standbys = nodes.filter((n) => n !== primary)
    const primaryNode = pair.nodes.find((x) => x.name === primary.name)!
    const how = await Promise.all(
      standbys.map((n) =>
        rejoinAsStandby(
          {
            exec: labExec(n),
            name: n.name,
            start: async () => {
              await must(labExec(n), `start ${n.name}`, `${PG_CTL_SCRIPT} start`, [])
            },
          },
          { exec: pExec, node: primaryNode },
          pg,
          { diagnose: async () => (await nodeExec(n, ['tail', '-n', '12', '/var/log/postgresql/lab.log'])).stdout.trim().replace(/\n/g, ' / ') },
        ),
      ),
    )
    if (pg.mode === 'sync')
      await setSyncStandbys(
        pExec,
        pg,
        standbys.map((n) => n.name),
      )
    done.push(
      `${pair.name}: primary ${primary.name}, ${standbys.map((n, i) => `standby ${n.name} (${how[i].how}, slot ${how[i].slot})`).join(', ')}, ${pg.mode}`,
    )
  }
  return done.join('; ') || 'no postgresql service'
}
