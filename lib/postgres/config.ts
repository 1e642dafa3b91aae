// What hapair derives from the inventory for PostgreSQL, pure: slot names, the standby's
// primary_conninfo, synchronous_standby_names, and the quoting each of those formats needs.
import type { Node, Pair, Postgresql, Service } from '../inventory/schema.ts'

export interface PgSettings {
  dataDir: string
  port: number
  binDir: string
  osUser: string
  socketDir: string
  replicationUser: string
  passwordFile: string
  mode: 'sync' | 'async'
  maxLagBytes: number
  slotPrefix: string
  replayTimeoutMs: number
}

export function pgSettings(p: Postgresql): PgSettings {
  return {
    dataDir: p.dataDir,
    port: p.port ?? 5432,
    binDir: p.binDir ?? '/usr/lib/postgresql/15/bin',
    osUser: p.osUser ?? 'postgres',
    socketDir: p.socketDir ?? '/var/run/postgresql',
    replicationUser: p.replicationUser ?? 'replicator',
    passwordFile: p.passwordFile,
    mode: p.mode ?? 'async',
    maxLagBytes: p.maxLagBytes ?? 16 * 1024 * 1024,
    slotPrefix: p.slotPrefix ?? 'hapair_',
    replayTimeoutMs: p.replayTimeoutMs ?? 10000,
  }
}

/** The pair's PostgreSQL service, if it has one (validation allows at most one). */
export function pgService(pair: Pair): (Service & { postgresql: Postgresql }) | undefined {
  return (pair.services ?? []).find((s): s is Service & { postgresql: Postgresql } => !!s.postgresql)
}

/** Slot names allow [a-z0-9_] only, up to 63 bytes. */
export function slotName(pg: PgSettings, node: string): string {
  return (pg.slotPrefix + node.toLowerCase().replace(/[^a-z0-9_]/g, '_')).slice(0, 63)
}

/** One libpq keyword value: bare when safe, else single-quoted with \ and ' escaped. */
export function conninfoValue(v: string | number): string {
  const s = String(v)
  return s !== '' && /^[A-Za-z0-9_./:@-]+$/.test(s) ? s : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

export function conninfo(kv: Record<string, string | number>): string {
  return Object.entries(kv)
    .map(([k, v]) => `${k}=${conninfoValue(v)}`)
    .join(' ')
}

/** How `node` streams from `primary`: its admin address (never a floating IP: that moves). */
export function primaryConninfo(pg: PgSettings, primary: Node, node: string): string {
  return conninfo({ host: primary.address, port: pg.port, user: pg.replicationUser, passfile: pg.passwordFile, application_name: node, connect_timeout: 2 })
}

/** pg_rewind reads files from the source over a normal connection. */
export function rewindSource(pg: PgSettings, primary: Node): string {
  return conninfo({ host: primary.address, port: pg.port, user: pg.replicationUser, passfile: pg.passwordFile, dbname: 'postgres', connect_timeout: 5 })
}

/** A string literal in postgresql.conf. */
export const confString = (s: string) => `'${s.replace(/'/g, "''")}'`

/** A standby name in synchronous_standby_names (always quoted: node names hold - and .). */
export const syncName = (n: string) => `"${n.replace(/"/g, '""')}"`

/** FIRST 1 of the given standbys (a commit waits for the first connected one), or '' for none. */
export function syncStandbyNames(standbys: string[]): string {
  return standbys.length ? `FIRST 1 (${standbys.map(syncName).join(', ')})` : ''
}
