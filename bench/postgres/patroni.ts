// Patroni (Debian's package) on the same lab pair, after hapair's runs, measured by the same
// client: the baseline the PostgreSQL benchmark compares against. Installed by
//   node scripts/setup.mjs patroni etcd      (patroni, etcd-server; policy-rc.d keeps their units from starting)
//
// What runs, and where:
// - etcd (single node) in its own namespace on the lab bridge, hp-<lab>-etcd, at the slot's .30
//   address, listening only there; its data under the lab's state dir (removed by lab down).
// - Patroni on each node (in the node's namespaces, as the postgres user), taking over the lab's
//   data directories once hapair's PostgreSQL is stopped: the hapair primary becomes Patroni's
//   first leader, the standby its replica. Default timers (ttl 30, loop_wait 10, retry_timeout 10),
//   synchronous_mode as hapair's mode, pg_rewind on, watchdog off (the lab has none).
// - The floating IP is moved by Patroni's callbacks (vipScript: ip addr add/del plus the same
//   gratuitous ARP as lib/drivers/ip-linux.ts), so the client writes through the same address as
//   in hapair's runs. Patroni runs with CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities, so
//   the callbacks it starts as postgres may move the address (a real deployment uses sudo).
// - patronictl runs on the controller against etcd and the members' REST API.
// Torn down in finally whatever happens: Patroni and etcd by the pids we started, then the etcd
// namespace; `lab down` sweeps hp-<lab>-* namespaces too, should this process die first.
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { labFault } from '../../lib/lab/index.ts'
import { nodeExec, nodePaths, nsPids, pidInNs } from '../../lib/lab/node.ts'
import { BRIDGE, intToIp, labPlan, parseCidr, type LabPlan, type NodePlan } from '../../lib/lab/plan.ts'
import { labExec, PG_CTL_SCRIPT } from '../../lib/lab/postgres.ts'
import { nodeEnv, run } from '../../lib/lab/proc.ts'
import { findTool, toolPath } from '../../lib/lab/tools.ts'
import { pgService, pgSettings, type PgSettings } from '../../lib/postgres/config.ts'
import { probePg, type PgState } from '../../lib/postgres/state.ts'
import type { TestLab } from '../../test/helpers/lab.ts'
import { Writer } from '../../test/postgres/_client.ts'
import { missing, sql } from '../../test/postgres/_pg.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const SCOPE = 'hapair-lab'
const DIR = '/var/lib/postgresql/patroni'
const CONFIG = `${DIR}/patroni.yml`
const VIP_SCRIPT = `${DIR}/vip.sh`
const LOG = '/var/log/postgresql/patroni.log'
const VIP_LOG = '/var/log/postgresql/patroni-vip.log'
const REST_PORT = 8008

export const PATRONI_COMMANDS = ['patroni', 'patronictl', 'etcd']
export const patroniInstalled = () => PATRONI_COMMANDS.every((c) => findTool(c))

export function patroniVersions(): { patroni: string; etcd: string } {
  const first = (cmd: string) => (spawnSync(toolPath(cmd), ['--version'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0].trim()
  // "patroni 3.0.2", "etcd Version: 3.4.23"
  return { patroni: first('patroni').replace(/^patroni\s+/i, ''), etcd: first('etcd').replace(/^etcd Version:\s*/i, '') }
}

export interface PatroniOptions {
  switchovers: number
  cuts: number
  mode: 'sync' | 'async'
  log?: (line: string) => void
}
export interface PatroniResult {
  versions: { patroni: string; etcd: string }
  etcd: string
  timers: { ttl: number; loop_wait: number; retry_timeout: number }
  synchronousMode: boolean
  vip: string
  takeoverMs: number
  switchover: { gapsMs: number[]; patronictlMs: number[]; settleMs: number[]; acked: number; unknown: number; lost: number }
  linkCut: {
    gapsMs: number[]
    promotedMs: number[]
    /** The isolated old primary, seen through its namespace: refusing new connections, then stopped (or a standby). */
    oldRefusedMs: (number | null)[]
    oldDownMs: (number | null)[]
    rejoinMs: number[]
    rewound: boolean[]
    /** The old primary's Patroni log from the cut to its rejoin, the lines about the lock, demotion and rewind. */
    oldPrimaryLog: string[][]
    acked: number
    unknown: number
    lost: number
    lostRows: number[]
  }
}

const TIMERS = { ttl: 30, loop_wait: 10, retry_timeout: 10 }

/** Patroni's callback: $1 action, $2 role, $3 scope. Only the leader holds the address. */
export function vipScript(vip: string, prefix: number, dev: string): string {
  const q = (s: string | number) => `'${String(s).replace(/'/g, `'\\''`)}'`
  return `#!/bin/sh
# Patroni callback (bench/postgres/patroni.ts): the floating IP follows the leader.
VIP=${q(vip)} PREFIX=${q(prefix)} DEV=${q(dev)} PIDF=/run/postgresql/patroni-garp.pid
echo "$(date +%T.%N) $*" >>${q(VIP_LOG)}
holds() { ip -o addr show dev "$DEV" | grep -q " $VIP/"; }
silence() { [ -f "$PIDF" ] && kill "$(cat "$PIDF")" 2>/dev/null; rm -f "$PIDF"; }
release() { silence; if holds; then ip addr del "$VIP/$PREFIX" dev "$DEV"; fi; }
case "$1:$2" in
  on_stop:*) release ;;
  *:master|*:primary|*:promoted)
    holds || ip addr add "$VIP/$PREFIX" dev "$DEV"
    silence
    # As lib/drivers/ip-linux.ts: two unsolicited ARPs, detached (Patroni kills a callback's children).
    if arping --help 2>&1 | grep -q Habets; then
      setsid arping -q -U -c 2 -i "$DEV" -S "$VIP" "$VIP" </dev/null >/dev/null 2>&1 &
    else
      setsid arping -q -U -c 2 -I "$DEV" "$VIP" </dev/null >/dev/null 2>&1 &
    fi
    echo $! >"$PIDF" ;;
  *) release ;;
esac
exit 0
`
}

/** Patroni's configuration (JSON is YAML). Lab-only trust rules: the lab has no secrets worth a password. */
export function patroniConfig(o: {
  node: NodePlan
  peers: NodePlan[]
  etcd: string
  controller: string
  pg: PgSettings
  sync: boolean
}): Record<string, unknown> {
  const hosts = o.peers.map((p) => `${p.address}/32`)
  const hba = [
    'local all all peer',
    ...hosts.map((h) => `host replication ${o.pg.replicationUser} ${h} trust`),
    ...hosts.map((h) => `host all postgres ${h} trust`),
    `host app app ${o.controller}/32 trust`,
  ]
  return {
    scope: SCOPE,
    name: o.node.name,
    log: { level: 'INFO' },
    restapi: { listen: `${o.node.address}:${REST_PORT}`, connect_address: `${o.node.address}:${REST_PORT}` },
    etcd3: { hosts: [`${o.etcd}:2379`] },
    bootstrap: {
      dcs: {
        ...TIMERS,
        maximum_lag_on_failover: 1048576,
        synchronous_mode: o.sync,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          // hapair's lab settings (lib/lab/postgres.ts labPgConf) that Patroni would otherwise set to its own defaults.
          parameters: { max_connections: 40, wal_keep_size: '128MB', hot_standby_feedback: 'on', wal_log_hints: 'on' },
        },
      },
      // Never used (Patroni takes over existing data directories) but required by --validate-config; as lib/lab's initdb.
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }],
      pg_hba: hba,
    },
    postgresql: {
      listen: `0.0.0.0:${o.pg.port}`,
      connect_address: `${o.node.address}:${o.pg.port}`,
      data_dir: o.pg.dataDir,
      bin_dir: o.pg.binDir,
      pgpass: `${DIR}/pgpass`,
      use_unix_socket: true,
      authentication: { superuser: { username: 'postgres' }, replication: { username: o.pg.replicationUser }, rewind: { username: 'postgres' } },
      parameters: { unix_socket_directories: o.pg.socketDir },
      pg_hba: hba,
      callbacks: Object.fromEntries(['on_start', 'on_stop', 'on_restart', 'on_role_change'].map((c) => [c, VIP_SCRIPT])),
    },
    watchdog: { mode: 'off' },
  }
}

// Written by the node's root shell into the postgres-owned directory; $1 file, $2 mode.
const PUT = `set -e; install -d -o postgres -g postgres -m 700 ${DIR}; cat >"$1"; chown postgres:postgres "$1"; chmod "$2" "$1"`
// Patroni as postgres, with the two capabilities its VIP callback needs; the pid is Patroni's own
// (setsid and setpriv exec, they do not fork), which is what teardown kills.
const START = `set -e
mkdir -p /run/postgresql /var/log/postgresql && chown postgres:postgres /run/postgresql /var/log/postgresql && chmod 2775 /run/postgresql
cd /
HOME=/var/lib/postgresql setsid setpriv --reuid=postgres --regid=postgres --init-groups --inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw -- patroni ${CONFIG} </dev/null >>${LOG} 2>&1 &
echo $!`
const VALIDATE = `cd / && HOME=/var/lib/postgresql setpriv --reuid=postgres --regid=postgres --init-groups -- patroni --validate-config ${CONFIG}`
// hapair's ALTER SYSTEM lines would override what Patroni writes to postgresql.conf.
const CLEAN_AUTO_CONF = `A="$1/postgresql.auto.conf"; [ -f "$A" ] || exit 0; sed -i -e '/^[[:space:]]*primary_conninfo[[:space:]]*=/d' -e '/^[[:space:]]*primary_slot_name[[:space:]]*=/d' -e '/^[[:space:]]*synchronous_standby_names[[:space:]]*=/d' "$A"`

function getJson(host: string, p: string, timeoutMs = 1500): Promise<any> {
  return new Promise((resolve) => {
    const req = http.get({ host, port: REST_PORT, path: p, timeout: timeoutMs, agent: false }, (res) => {
      let b = ''
      res.setEncoding('utf8').on('data', (d) => (b += d))
      res.on('end', () => {
        try {
          resolve(JSON.parse(b))
        } catch {
          resolve(undefined)
        }
      })
    })
    req.on('timeout', () => {
      req.destroy()
      resolve(undefined)
    })
    req.on('error', () => resolve(undefined))
  })
}

const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0
  } catch {
    return false
  }
}
const cmdlineOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
  } catch {
    return ''
  }
}

/** SIGTERM, then SIGKILL after graceMs: only a pid we started, still running what we started. */
async function stopPid(pid: number, what: RegExp, graceMs: number): Promise<string> {
  if (!alive(pid) || !what.test(cmdlineOf(pid))) return 'gone'
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return 'gone'
  }
  for (let t = 0; t < graceMs && alive(pid); t += 100) await sleep(100)
  if (!alive(pid)) return 'stopped'
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    /* exited meanwhile */
  }
  for (let t = 0; t < 5000 && alive(pid); t += 50) await sleep(50)
  return alive(pid) ? 'survived SIGKILL' : 'killed'
}

const tail = (file: string, n = 15) => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n')
  } catch {
    return `(no ${file})`
  }
}

export async function benchPatroni(lab: TestLab, o: PatroniOptions): Promise<PatroniResult> {
  const log = o.log ?? ((l: string) => console.log(l))
  const plan: LabPlan = labPlan(lab.inv)
  const pair = lab.inv.data.pairs[0]
  const pg = pgSettings(pgService(pair)!.postgresql)
  const fip = pair.floatingIps![0]
  const vip = fip.address
  const nodes = plan.nodes.filter((n) => n.pair === pair.name)
  const byName = (name: string) => nodes.find((n) => n.name === name)!
  const other = (name: string) => nodes.find((n) => n.name !== name)!.name
  const hostLog = (n: NodePlan, f: string) => path.join(nodePaths(n).log, path.relative('/var/log', f))
  const readLog = (n: string) => {
    try {
      return readFileSync(hostLog(byName(n), LOG), 'utf8')
    } catch {
      return ''
    }
  }

  // The etcd host: the slot's .30, which nothing of the lab uses.
  const etcd = intToIp(parseCidr(plan.subnet).base + 30)
  const used = [
    plan.controller,
    ...nodes.map((n) => n.address),
    ...plan.floating.map((f) => f.address),
    ...((plan as { bastions?: { address: string }[] }).bastions ?? []).map((b) => b.address),
  ]
  if (used.includes(etcd)) throw new Error(`etcd address ${etcd} is already used in lab ${plan.lab}`)
  const etcdNs = `hp-${plan.lab}-etcd`
  const etcdPort = `hp${plan.id}etcd`
  const etcdDir = path.join(plan.stateDir, 'etcd')
  const ctlConfig = path.join(plan.stateDir, 'patronictl.yml')

  const patroniPids = new Map<string, number>()
  let etcdPid: number | undefined
  let nsMade = false
  const probe = (n: string): Promise<PgState | undefined> => probePg(labExec(byName(n)), pg).catch(() => undefined)

  const result: PatroniResult = {
    versions: patroniVersions(),
    etcd: `${etcd}:2379 in ${etcdNs}`,
    timers: TIMERS,
    synchronousMode: o.mode === 'sync',
    vip,
    takeoverMs: 0,
    switchover: { gapsMs: [], patronictlMs: [], settleMs: [], acked: 0, unknown: 0, lost: 0 },
    linkCut: {
      gapsMs: [],
      promotedMs: [],
      oldRefusedMs: [],
      oldDownMs: [],
      rejoinMs: [],
      rewound: [],
      oldPrimaryLog: [],
      acked: 0,
      unknown: 0,
      lost: 0,
      lostRows: [],
    },
  }

  /** Leader and a streaming (sync) replica, as Patroni and as PostgreSQL itself say. */
  async function healthy(leader: string, timeoutMs: number): Promise<number> {
    const t0 = Date.now()
    const replica = other(leader)
    let last = ''
    while (Date.now() - t0 < timeoutMs) {
      const c = await getJson(byName(leader).address, '/cluster')
      const m = (name: string) => c?.members?.find((x: any) => x.name === name)
      const lm = m(leader)
      const rm = m(replica)
      const [lp, rp] = await Promise.all([probe(leader), probe(replica)])
      const ok =
        lm?.role === 'leader' &&
        lm.state === 'running' &&
        rm?.state === 'running' &&
        (o.mode !== 'sync' || rm.role === 'sync_standby') &&
        typeof rm.lag === 'number' &&
        rm.lag <= 1048576 &&
        lp?.role === 'primary' &&
        rp?.role === 'standby' &&
        rp.receiver?.status === 'streaming' &&
        lp.replicas.some((r) => r.name === replica && r.state === 'streaming' && (o.mode !== 'sync' || r.sync === 'sync'))
      if (ok) return Date.now() - t0
      last = `patroni ${JSON.stringify(c?.members?.map((x: any) => [x.name, x.role, x.state, x.lag]) ?? 'no answer')}, postgres ${leader} ${lp?.role}, ${replica} ${rp?.role} ${rp?.receiver?.status ?? ''}`
      await sleep(250)
    }
    throw new Error(
      `Patroni: ${leader} leading with ${replica} streaming not reached in ${timeoutMs / 1000} s: ${last}\n${replica}:\n${tail(hostLog(byName(replica), LOG))}`,
    )
  }

  async function leaderNow(): Promise<string> {
    for (const n of nodes) {
      const c = await getJson(n.address, '/cluster')
      const l = c?.members?.find((x: any) => x.role === 'leader')
      if (l) return l.name
    }
    throw new Error('Patroni: no member reports a leader')
  }

  async function startPatroni(n: NodePlan): Promise<void> {
    const v = await nodeExec(n, ['sh', '-c', VALIDATE])
    if (v.code !== 0) throw new Error(`patroni --validate-config on ${n.name} (exit ${v.code}): ${(v.stderr + v.stdout).trim()}`)
    const r = await nodeExec(n, ['sh', '-c', START])
    const pid = Number(r.stdout.trim())
    if (r.code !== 0 || !Number.isInteger(pid) || pid <= 0) throw new Error(`patroni on ${n.name} did not start: ${(r.stderr || r.stdout).trim()}`)
    patroniPids.set(n.name, pid)
    await sleep(300)
    if (!alive(pid) || !pidInNs(pid, n.ns) || !/patroni/.test(cmdlineOf(pid)))
      throw new Error(`patroni on ${n.name} (pid ${pid}) exited at once:\n${tail(hostLog(n, LOG))}`)
  }

  async function waitRole(n: string, role: string, timeoutMs: number): Promise<number> {
    const t0 = Date.now()
    while (Date.now() - t0 < timeoutMs) {
      const s = await getJson(byName(n).address, '/patroni', 1000)
      if (s?.role === role && s?.state === 'running') return Date.now() - t0
      await sleep(200)
    }
    throw new Error(`Patroni on ${n} is not ${role} after ${timeoutMs / 1000} s:\n${tail(hostLog(byName(n), LOG))}`)
  }

  const patronictl = (args: string[]) => run('patronictl', ['-c', ctlConfig, ...args], { timeoutMs: 120_000 })

  try {
    // --- etcd in its own namespace on the bridge
    await mustIp(['netns', 'add', etcdNs])
    nsMade = true
    await run('ip', ['netns', 'exec', etcdNs, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
    await mustIp(['-n', etcdNs, 'link', 'set', 'lo', 'up'])
    await mustIp(['-n', plan.bridgeNs, 'link', 'add', etcdPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', etcdNs])
    await mustIp(['-n', plan.bridgeNs, 'link', 'set', etcdPort, 'master', BRIDGE, 'up'])
    await mustIp(['-n', etcdNs, 'addr', 'add', `${etcd}/${plan.prefix}`, 'dev', 'eth0'])
    await mustIp(['-n', etcdNs, 'link', 'set', 'eth0', 'up'])
    mkdirSync(etcdDir, { recursive: true, mode: 0o700 })
    const out = openSync(path.join(etcdDir, 'etcd.log'), 'a')
    const e = `http://${etcd}`
    const child = spawn(
      toolPath('ip'),
      [
        'netns',
        'exec',
        etcdNs,
        toolPath('etcd'),
        '--name',
        'lab',
        '--data-dir',
        path.join(etcdDir, 'data'),
        '--listen-client-urls',
        `${e}:2379`,
        '--advertise-client-urls',
        `${e}:2379`,
        '--listen-peer-urls',
        `${e}:2380`,
        '--initial-advertise-peer-urls',
        `${e}:2380`,
        '--initial-cluster',
        `lab=${e}:2380`,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        `hapair-${plan.lab}`,
      ],
      { detached: true, stdio: ['ignore', out, out], env: nodeEnv(), cwd: '/' },
    )
    closeSync(out)
    child.unref()
    etcdPid = child.pid
    // ip netns exec execs etcd in place: this pid is etcd's.
    let up = false
    for (let i = 0; i < 150 && !up; i++) {
      await sleep(200)
      up = await new Promise<boolean>((resolve) => {
        const req = http.get({ host: etcd, port: 2379, path: '/health', timeout: 1000, agent: false }, (res) => {
          let b = ''
          res.on('data', (d) => (b += d)).on('end', () => resolve(/"health":\s*"true"/.test(b)))
        })
        req.on('timeout', () => {
          req.destroy()
          resolve(false)
        })
        req.on('error', () => resolve(false))
      })
      if (!etcdPid || !alive(etcdPid)) throw new Error(`etcd exited:\n${tail(path.join(etcdDir, 'etcd.log'))}`)
    }
    if (!up) throw new Error(`etcd at ${etcd}:2379 not healthy after 30 s:\n${tail(path.join(etcdDir, 'etcd.log'))}`)
    if (!pidInNs(etcdPid!, etcdNs) || !/etcd/.test(cmdlineOf(etcdPid!))) throw new Error(`pid ${etcdPid} is not etcd in ${etcdNs}`)
    log(`patroni: etcd ${result.versions.etcd} at ${etcd}:2379 in ${etcdNs} (pid ${etcdPid})`)

    // --- hand the pair over: stop hapair's PostgreSQL (the primary first, so the standby receives its shutdown checkpoint)
    const tTake = Date.now()
    const st = Object.fromEntries(await Promise.all(nodes.map(async (n) => [n.name, await probe(n.name)] as const)))
    const primaries = nodes.filter((n) => st[n.name]?.role === 'primary').map((n) => n.name)
    if (primaries.length !== 1) throw new Error(`before Patroni: expected one primary, got [${primaries}]`)
    const first = primaries[0]
    for (const n of [first, other(first)]) {
      const r = await nodeExec(byName(n), [PG_CTL_SCRIPT, 'stop'], { timeoutMs: 130_000 })
      if (r.code !== 0) throw new Error(`stopping hapair's PostgreSQL on ${n}: ${(r.stderr || r.stdout).trim()}`)
      await nodeExec(byName(n), ['sh', '-c', CLEAN_AUTO_CONF, 'clean', pg.dataDir])
    }
    for (const h of await lab.holders(vip)) await nodeExec(byName(h), ['ip', 'addr', 'del', `${vip}/${fip.prefix ?? 32}`, 'dev', fip.interface ?? 'eth0'])
    for (const n of nodes) {
      const cfg = patroniConfig({ node: n, peers: nodes, etcd, controller: plan.controller, pg, sync: o.mode === 'sync' })
      for (const [file, body, mode] of [
        [CONFIG, JSON.stringify(cfg, null, 2) + '\n', '600'],
        [VIP_SCRIPT, vipScript(vip, fip.prefix ?? 32, fip.interface ?? 'eth0'), '755'],
      ] as const) {
        const r = await nodeExec(n, ['sh', '-c', PUT, 'put', file, mode], { input: body })
        if (r.code !== 0) throw new Error(`writing ${file} on ${n.name}: ${r.stderr.trim()}`)
      }
    }
    writeFileSync(ctlConfig, JSON.stringify({ scope: SCOPE, etcd3: { hosts: [`${etcd}:2379`] } }) + '\n', { mode: 0o600 })
    await startPatroni(byName(first))
    await waitRole(first, 'master', 180_000)
    await startPatroni(byName(other(first)))
    await healthy(first, 240_000)
    result.takeoverMs = Date.now() - tTake
    log(
      `patroni: ${result.versions.patroni} took over in ${(result.takeoverMs / 1000).toFixed(1)} s: ${first} leader, ${other(first)} ${o.mode === 'sync' ? 'sync standby' : 'replica'} (pids ${[...patroniPids.values()].join(' ')})`,
    )
    const cfg = await patronictl(['show-config'])
    log(
      `patroni: dynamic configuration: ${cfg.stdout
        .trim()
        .split('\n')
        .filter((l) => /^(ttl|loop_wait|retry_timeout|synchronous_mode):/.test(l))
        .join(', ')}`,
    )

    // The address answers as the leader (the callback added it): the client's first write must not fail for setup reasons.
    for (let i = 0; ; i++) {
      const r = await sql(vip, 'select pg_is_in_recovery()').catch(() => undefined)
      if (r?.[0]?.[0] === 'f') break
      if (i > 100) throw new Error(`floating IP ${vip} does not reach Patroni's leader:\n${tail(hostLog(byName(first), VIP_LOG))}`)
      await sleep(200)
    }

    // --- planned: patronictl switchover --force, alternating
    await sql(vip, 'create table p (n int primary key)')
    const w = new Writer({ host: vip, table: 'p' }).start()
    await sleep(300)
    for (let i = 0; i < o.switchovers; i++) {
      const from = await leaderNow()
      const to = other(from)
      await healthy(from, 240_000)
      const t0 = Date.now()
      const r = await patronictl(['switchover', '--leader', from, '--candidate', to, '--force'])
      const t1 = Date.now()
      if (r.code !== 0 || !/Successfully switched over/i.test(r.stdout))
        throw new Error(`patronictl switchover ${from} -> ${to} (exit ${r.code}): ${(r.stdout + r.stderr).trim()}`)
      // The gap is over once the client has written on the new leader.
      await waitRole(to, 'master', 60_000)
      for (let k = 0; k < 300 && !w.acked.some((a) => a.t > t1); k++) await sleep(100)
      const settle = await healthy(to, 240_000)
      result.switchover.gapsMs.push(w.gap(t0, t1))
      result.switchover.patronictlMs.push(t1 - t0)
      result.switchover.settleMs.push(settle)
      log(
        `patroni switchover ${i + 1}: ${from} -> ${to} write unavailability ${result.switchover.gapsMs.at(-1)} ms (patronictl ${t1 - t0} ms; ${from} streaming again ${(settle / 1000).toFixed(1)} s later)`,
      )
    }
    await w.stop()
    result.switchover.acked = w.acked.length
    result.switchover.unknown = w.unknown.length
    result.switchover.lost = (await missing(vip, 'p', w.acked)).length

    // --- unplanned: the leader's link cut (lab isolate); heal and wait for the rejoin between runs
    for (let i = 0; i < o.cuts; i++) {
      const from = await leaderNow()
      const to = other(from)
      await healthy(from, 240_000)
      const table = `c${i + 1}`
      await sql(vip, `create table ${table} (n int primary key)`)
      const wc = new Writer({ host: vip, table }).start()
      await sleep(500)
      const logAt = readLog(from).length
      const t0 = Date.now()
      await labFault(lab.inv, 'isolate', from)
      let promoted: number | undefined
      let refused: number | undefined
      let down: number | undefined
      while (Date.now() - t0 < 120_000 && (promoted === undefined || down === undefined || !wc.acked.some((a) => a.t > promoted!))) {
        if (promoted === undefined) {
          const s = await getJson(byName(to).address, '/patroni', 1000)
          if (s?.role === 'master') promoted = Date.now()
        }
        if (down === undefined) {
          // Through the node's namespace, not its cut link. A probe that fails under load proves
          // nothing: refusing means a server that says it is shutting down, or a standby, or none.
          const p = await probe(from)
          const gone = p?.role === 'standby' || p?.role === 'down'
          if (refused === undefined && (gone || (p?.role === 'unknown' && /shutting down|starting up|not yet accepting/i.test(p.error ?? ''))))
            refused = Date.now()
          if (gone) down = Date.now()
        }
        await sleep(200)
      }
      if (promoted === undefined) throw new Error(`link cut ${i + 1}: ${to} was not promoted in 120 s:\n${tail(hostLog(byName(to), LOG))}`)
      await sleep(500)
      await wc.stop()
      const gap = wc.gap(t0, promoted)
      const lost = await missing(vip, table, wc.acked)
      result.linkCut.gapsMs.push(gap)
      result.linkCut.promotedMs.push(promoted - t0)
      result.linkCut.oldRefusedMs.push(refused === undefined ? null : refused - t0)
      result.linkCut.oldDownMs.push(down === undefined ? null : down - t0)
      result.linkCut.acked += wc.acked.length
      result.linkCut.unknown += wc.unknown.length
      result.linkCut.lost += lost.length
      result.linkCut.lostRows.push(...lost)
      const th = Date.now()
      await labFault(lab.inv, 'heal', from)
      const rejoin = await healthy(to, 300_000)
      result.linkCut.rejoinMs.push(Date.now() - th)
      const since = readLog(from).slice(logAt)
      result.linkCut.rewound.push(/running pg_rewind/.test(since))
      result.linkCut.oldPrimaryLog.push(
        since
          .split('\n')
          .filter((l) => /demot|DCS|shut|rewind|promot|lock/i.test(l))
          .slice(0, 20),
      )
      log(
        `patroni link cut ${i + 1}: ${from} isolated -> ${to} write unavailability ${gap} ms (promoted after ${((promoted - t0) / 1000).toFixed(1)} s; ` +
          `old primary refused connections after ${refused === undefined ? '-' : ((refused - t0) / 1000).toFixed(1)} s, stopped after ${down === undefined ? '- (still up at 120 s)' : ((down - t0) / 1000).toFixed(1)} s; ` +
          `${wc.acked.length} acknowledged, ${lost.length} lost, ${wc.unknown.length} unknown; rejoined ${(rejoin / 1000).toFixed(1)} s after heal${result.linkCut.rewound.at(-1) ? ', pg_rewind' : ''})`,
      )
    }
    return result
  } catch (e) {
    for (const n of nodes) log(`--- ${n.name} ${LOG}:\n${tail(hostLog(n, LOG), 25)}`)
    throw e
  } finally {
    await labHealQuietly(lab, nodes)
    for (const [name, pid] of patroniPids) {
      // Patroni stops its PostgreSQL on SIGTERM; ttl plus a margin before SIGKILL.
      const how = await stopPid(pid, /patroni/, 40_000)
      log(`patroni teardown: ${name} patroni pid ${pid} ${how}`)
    }
    if (etcdPid) log(`patroni teardown: etcd pid ${etcdPid} ${await stopPid(etcdPid, /etcd/, 10_000)}`)
    if (nsMade) {
      const left = nsPids(etcdNs)
      if (left.length) log(`patroni teardown: processes left in ${etcdNs}: ${left.join(' ')} (lab down kills them)`)
      else if ((await run('ip', ['netns', 'del', etcdNs])).code === 0) log(`patroni teardown: deleted namespace ${etcdNs}`)
    }
  }
}

async function mustIp(args: string[]): Promise<void> {
  const r = await run('ip', args)
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`)
}

/** A run that failed mid-cut must not leave a node unplugged for the teardown. */
async function labHealQuietly(lab: TestLab, nodes: NodePlan[]): Promise<void> {
  const plan = labPlan(lab.inv)
  for (const n of nodes) {
    const r = await run('ip', ['-n', plan.bridgeNs, '-o', 'link', 'show', n.port])
    if (r.code === 0 && !/[<,]UP[,>]/.test(r.stdout)) await labFault(lab.inv, 'heal', n.name).catch(() => {})
  }
}
