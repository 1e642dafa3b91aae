// A PostgreSQL base backup (pg_basebackup -Ft: base.tar.gz, pg_wal.tar.gz, backup_manifest) is
// only proven by opening it: pgBackRest verify and Barman check-backup check archives but never
// start them. With --restore the newest backup is extracted into a private scratch directory on
// the node that holds it, checked with pg_verifybackup against its manifest, started as a
// throwaway server (no TCP listener, no archiving, no primary to follow) and asked a query.
// The server is stopped and the scratch removed whatever happens: by the script's exit trap, and
// by a watcher in its own session when the controller goes away or the script itself is killed.
import { randomInt } from 'node:crypto'
import { LONG_TIMEOUT_MS } from '../outcome.ts'
import { RemoteError } from '../errors.ts'
import type { Backup, PgBackup } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import type { NodeSession } from '../ssh.ts'
import { PG_BASE, type Archive } from './inspect.ts'
import { archiveKind, parseReadThrough, readThroughScript, type ArchiveKind } from './integrity.ts'
import { parseTarVerbose } from './manifest.ts'

export interface PgBackupSettings {
  binDir: string
  osUser: string
  database: string
  query: string
  startTimeoutMs: number
  queryTimeoutMs: number
}

export function pgBackupSettings(p: PgBackup): PgBackupSettings {
  return {
    binDir: p.binDir ?? '/usr/lib/postgresql/15/bin',
    osUser: p.osUser ?? 'postgres',
    database: p.database ?? 'postgres',
    query: p.query ?? 'SELECT 1',
    startTimeoutMs: p.startTimeoutMs ?? 600000,
    queryTimeoutMs: p.queryTimeoutMs ?? 60000,
  }
}

/** The members of one pg_basebackup -Ft directory that a restore needs. */
export interface PgParts {
  base?: string
  wal?: string
  manifest: boolean
  tablespaces: string[]
}

export function pgParts(a: Archive): PgParts {
  const files = a.files ?? []
  return {
    base: files.find((f) => PG_BASE.test(f)),
    wal: files.find((f) => /^pg_wal\.tar(\.[a-z0-9]+)?$/.test(f)),
    manifest: files.includes('backup_manifest'),
    tablespaces: files.filter((f) => /^\d+\.tar(\.[a-z0-9]+)?$/.test(f)),
  }
}

/** tar's flag for a compressor it runs itself; the archive arrives on stdin, where tar cannot guess. */
export function tarFlag(kind: ArchiveKind): string {
  return ({ gzip: '-z', zstd: '--zstd', xz: '-J', bzip2: '-j' } as const)[kind.compressor as 'gzip'] ?? ''
}

/** A readable archive kind, or why not (pg_basebackup also writes lz4, which this cannot read through). */
export function pgKind(name: string): ArchiveKind | string {
  const k = archiveKind(name)
  if (!k?.tar || (k.compressor === undefined && !name.endsWith('.tar')))
    return `${name}: compression not supported (take the backup with -z or --compress=zstd)`
  return k
}

/** Exit codes of the restore script, and what each means in the report. */
export const PG_EXIT = { scratch: 90, extract: 91, space: 92, exited: 93, notReady: 94, query: 95, manifest: 96, version: 97, tablespace: 98 } as const

export interface PgRestoreArgs {
  dir: string
  base: { name: string; flag: string }
  wal?: { name: string; flag: string }
  manifest: boolean
  needBytes: number
  pg: PgBackupSettings
  /** The socket's name (.s.PGSQL.<port>); nothing listens on TCP. */
  port?: number
}

/**
 * One script, one round trip. Every inventory value is a quoted assignment at the top; the body
 * is fixed text. stdout: "T <phase> <ms>" lines, "N <note>", "V <first value of the query>" and
 * the watcher's "H" heartbeats; on failure one of PG_EXIT with the reason (and the server's log) on stderr.
 */
export function pgRestoreScript(a: PgRestoreArgs): string {
  const port = a.port ?? randomInt(20000, 60000)
  const vars =
    sh`A=${a.dir} BASE=${a.base.name} BZ=${a.base.flag} WAL=${a.wal?.name ?? ''} WZ=${a.wal?.flag ?? ''} MAN=${a.manifest ? 'yes' : ''} ` +
    sh`B=${a.pg.binDir} U=${a.pg.osUser} DB=${a.pg.database} Q=${a.pg.query} P=${port} ` +
    sh`START=${Math.ceil(a.pg.startTimeoutMs / 1000)} QMS=${a.pg.queryTimeoutMs} NEED=${Math.ceil(a.needBytes * 1.1)}`
  return `export LC_ALL=C
${vars}
cd / || exit ${PG_EXIT.scratch}
as() { runuser -u "$U" -- "$@"; }
ms() { date +%s%3N; }
# the first distinct lines of a tool's complaint, on one line
one() { grep . | awk '!seen[$0]++' | head -n "\${1:-2}" | tr '\\n' ' ' | sed 's/  */ /g; s/ *$//'; }
d=$(mktemp -d "\${TMPDIR:-/var/tmp}/hapair-pgrestore.XXXXXX") || { echo "cannot create a scratch directory" >&2; exit ${PG_EXIT.scratch}; }
rp=
stop_server() {
  [ -n "$rp" ] || return 0
  if [ -f "$d/data/postmaster.pid" ]; then as "$B/pg_ctl" stop -D "$d/data" -m immediate -s -w -t 30 >/dev/null 2>&1; fi
  if alive; then kill -KILL $(ps -o pid= --ppid "$rp") "$rp" 2>/dev/null; fi
  wait "$rp" 2>/dev/null
  rp=
}
# an exited child stays a zombie until the shell reaps it, and kill -0 still finds a zombie
alive() { s=$(ps -o stat= -p "$rp" 2>/dev/null) && [ "\${s#Z}" = "$s" ]; }
trap 'rc=$?; trap - EXIT; [ -f "$d/watch.pid" ] && kill -KILL "$(cat "$d/watch.pid")" 2>/dev/null; stop_server; rm -rf "$d"; exit $rc' EXIT
trap 'exit 129' HUP INT TERM PIPE
# The watcher, in a session of its own: while this script runs it writes a heartbeat, and when
# that fails (the controller gave up and its channel is gone) it stops the server, which ends
# any wait on it, and asks the script to end; once the script is gone, killed outright
# included, it stops the server and removes the scratch. The script's exit trap ends it first.
# Forked twice, so that no shell reports its end.
( setsid sh -c 'trap "" PIPE HUP; echo $$ >"$2/watch.pid"
  while kill -0 "$1" 2>/dev/null; do
    sleep 1 </dev/null >/dev/null 2>&1
    echo H 2>/dev/null && continue
    [ -f "$2/data/postmaster.pid" ] && runuser -u "$4" -- "$3/pg_ctl" stop -D "$2/data" -m immediate -s -w -t 30 >/dev/null 2>&1
    kill -TERM "$1" 2>/dev/null
  done
  [ -d "$2" ] || exit 0
  [ -f "$2/data/postmaster.pid" ] && runuser -u "$4" -- "$3/pg_ctl" stop -D "$2/data" -m immediate -s -w -t 30 >/dev/null 2>&1
  rm -rf "$2"' hapair-pgrestore-watch "$$" "$d" "$B" "$U" </dev/null 2>/dev/null & )
chown "$U:" "$d" && chmod 700 "$d" || exit ${PG_EXIT.scratch}
avail=$(df -Pk "$d" | awk 'NR==2 {print $4}')
if [ "$((avail * 1024))" -lt "$NEED" ]; then echo "scratch $d has $((avail / 1024)) MiB free, the restore needs $((NEED / 1048576)) MiB: set TMPDIR for the node's login" >&2; exit ${PG_EXIT.space}; fi
umask 077
t=$(ms)
as mkdir "$d/data" || exit ${PG_EXIT.scratch}
# root opens the archive, the server's user extracts it: nothing in it is written with root's rights
out=$(as tar \${BZ:+"$BZ"} -xf - -C "$d/data" <"$A/$BASE" 2>&1) || { echo "$BASE: $(printf '%s\\n' "$out" | one)" >&2; exit ${PG_EXIT.extract}; }
if [ -n "$WAL" ]; then
  as mkdir -p "$d/data/pg_wal" || exit ${PG_EXIT.scratch}
  out=$(as tar \${WZ:+"$WZ"} -xf - -C "$d/data/pg_wal" <"$A/$WAL" 2>&1) || { echo "$WAL: $(printf '%s\\n' "$out" | one)" >&2; exit ${PG_EXIT.extract}; }
fi
[ -f "$d/data/PG_VERSION" ] || { echo "$BASE holds no PG_VERSION: not a PostgreSQL data directory" >&2; exit ${PG_EXIT.extract}; }
echo "T extract $(($(ms) - t))"
if [ -n "$MAN" ]; then
  if [ -x "$B/pg_verifybackup" ]; then
    t=$(ms)
    cp -- "$A/backup_manifest" "$d/backup_manifest" && chown "$U:" "$d/backup_manifest" || exit ${PG_EXIT.scratch}
    # -n: the WAL is proven by replaying it below, not by parsing it twice
    out=$(as "$B/pg_verifybackup" -n -q -m "$d/backup_manifest" "$d/data" 2>&1) || {
      n=$(printf '%s\\n' "$out" | grep -c .); [ "$n" = 1 ] && w=problem || w=problems
      echo "$n $w: $(printf '%s\\n' "$out" | one 3)" >&2; exit ${PG_EXIT.manifest}; }
    echo "T verify $(($(ms) - t))"
  else
    echo "N no pg_verifybackup in $B (PostgreSQL 13 or later has it): files not checked against backup_manifest"
  fi
fi
want=$(cat "$d/data/PG_VERSION")
have=$("$B/postgres" -V 2>/dev/null | sed -n 's/^[^)]*) \\([0-9][0-9]*\\).*/\\1/p')
[ "$have" = "$want" ] || { echo "the backup is PostgreSQL $want, $B/postgres is \${have:-missing}: set postgresql.binDir to the $want binaries" >&2; exit ${PG_EXIT.version}; }
[ -s "$d/data/tablespace_map" ] && { echo "the backup has tablespaces (tablespace_map): a test restore of tablespaces is not supported" >&2; exit ${PG_EXIT.tablespace}; }
# a throwaway copy follows no primary and archives nothing: no signal file, no primary_conninfo
rm -f "$d/data/standby.signal" "$d/data/recovery.signal"
if [ -f "$d/data/postgresql.auto.conf" ]; then
  as sed -i -e '/^[[:space:]]*primary_conninfo[[:space:]]*=/d' -e '/^[[:space:]]*primary_slot_name[[:space:]]*=/d' "$d/data/postgresql.auto.conf" || exit ${PG_EXIT.scratch}
fi
# the socket directory is private to the server's user, so trust there lets in only it (and root)
printf 'local all all trust\\n' >"$d/pg_hba.conf" && : >"$d/pg_ident.conf" || exit ${PG_EXIT.scratch}
CONF="$d/data/postgresql.conf"
if [ ! -f "$CONF" ]; then CONF="$d/postgresql.conf"; : >"$CONF"; fi
chown "$U:" "$d/pg_hba.conf" "$d/pg_ident.conf" "$d/postgresql.conf" 2>/dev/null
t=$(ms)
# command-line settings beat postgresql.conf and postgresql.auto.conf: whatever the backup's own
# configuration says, nothing listens on TCP, archives, follows a primary or waits for a standby
as "$B/postgres" -D "$d/data" -c config_file="$CONF" -c data_directory="$d/data" -c hba_file="$d/pg_hba.conf" -c ident_file="$d/pg_ident.conf" \\
  -c listen_addresses= -c port="$P" -c unix_socket_directories="$d" -c unix_socket_permissions=0700 -c unix_socket_group= \\
  -c archive_mode=off -c primary_conninfo= -c primary_slot_name= -c restore_command= -c synchronous_standby_names= \\
  -c fsync=off -c autovacuum=off -c shared_buffers=32MB -c huge_pages=off -c ssl=off -c cluster_name=hapair-verify \\
  -c logging_collector=off -c log_destination=stderr -c log_line_prefix= -c lc_messages=C \\
  </dev/null >"$d/log" 2>&1 &
rp=$!
# without the refusals pg_isready's own attempts cause while the server starts
logtail() { grep -v -e '^FATAL: *the database system is ' -e '^DETAIL: *Consistent recovery state has not been yet reached' -e '^[[:space:]]' "$d/log" | tail -n 6 | sed 's/  */ /g' | tr '\\n' '|' | sed 's/|$//; s/|/ \\/ /g'; }
end=$(($(date +%s) + START))
until PGDATABASE="$DB" "$B/pg_isready" -q -h "$d" -p "$P" -U "$U" -t 2; do
  if ! alive; then echo "the server exited during start-up; its log ends: $(logtail)" >&2; exit ${PG_EXIT.exited}; fi
  if [ "$(date +%s)" -ge "$end" ]; then echo "not accepting connections after $START s; its log ends: $(logtail)" >&2; exit ${PG_EXIT.notReady}; fi
  sleep 0.1
done
echo "T start $(($(ms) - t))"
t=$(ms)
out=$(timeout -k 5 $((QMS / 1000 + 30)) runuser -u "$U" -- env PGDATABASE="$DB" PGOPTIONS="-c statement_timeout=$QMS" \\
  "$B/psql" -XAtq -v ON_ERROR_STOP=1 -h "$d" -p "$P" -c "$Q" 2>"$d/qerr") || {
  rc=$?; [ $rc -ge 124 ] && echo "no answer within $((QMS / 1000 + 30)) s" >>"$d/qerr"; echo "$(one 1 <"$d/qerr")" >&2; exit ${PG_EXIT.query}; }
echo "T query $(($(ms) - t))"
printf 'V %s\\n' "$(printf '%s\\n' "$out" | head -n 1 | cut -c 1-200)"
t=$(ms)
stop_server
echo "T stop $(($(ms) - t))"
`
}

export interface PgRestoreOutput {
  ms: Record<string, number>
  notes: string[]
  value?: string
}

export function parsePgRestore(stdout: string): PgRestoreOutput {
  const out: PgRestoreOutput = { ms: {}, notes: [] }
  for (const line of stdout.split('\n')) {
    const m = /^([TNV]) (.*)$/.exec(line)
    if (!m) continue
    if (m[1] === 'T') {
      const [k, v] = m[2].split(' ')
      out.ms[k] = Number(v)
    } else if (m[1] === 'N') out.notes.push(m[2])
    else out.value = m[2]
  }
  return out
}

/** The query passes when its first value is a number above 0 or true: SELECT 1, a row count, an exists(). */
export function queryPasses(value: string | undefined): boolean {
  if (value === undefined) return false
  const v = value.trim()
  if (v === 't' || v === 'true') return true
  return /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(v) && Number(v) > 0
}

export const shortSql = (q: string) => {
  const one = q.replace(/\s+/g, ' ').trim()
  return one.length > 60 ? `${one.slice(0, 57)}...` : one
}

/** "1.2 s" or "340 ms". */
const took = (ms: number | undefined) => (ms === undefined ? '?' : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`)

export interface PgVerdict {
  ok: boolean
  detail: string
}

/** The server's own reason, first: the FATAL or PANIC line of its log, when there is one. */
function fatal(log: string): string {
  const line = log
    .replace(/^.*?its log ends: /, '')
    .split(' / ')
    .find((l) => /^(FATAL|PANIC):/.test(l))
  return line ? `${line}; ` : ''
}

/** The restore script's outcome, in the report's words: verified, extract failed, did not start, query failed. */
export function judgePgRestore(name: string, parts: PgParts, pg: PgBackupSettings, code: number | null, stdout: string, stderr: string): PgVerdict {
  const why = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${code}`
  const o = parsePgRestore(stdout)
  const noWal = parts.wal ? '' : ` (there is no pg_wal.tar* beside ${parts.base}: a backup taken with -X none needs its WAL from an archive)`
  switch (code) {
    case 0:
      break
    case PG_EXIT.space:
      return { ok: false, detail: `${name}: not attempted: ${why}` }
    case PG_EXIT.extract:
      return { ok: false, detail: `${name}: extract failed: ${why}; the backup is damaged, take a new one` }
    case PG_EXIT.manifest:
      return { ok: false, detail: `${name}: pg_verifybackup failed, ${why}: the backup does not hold what its backup_manifest lists` }
    case PG_EXIT.version:
      return { ok: false, detail: `${name}: not started: ${why}` }
    case PG_EXIT.tablespace:
      return { ok: false, detail: `${name}: not started: ${why}` }
    case PG_EXIT.exited:
      return { ok: false, detail: `${name}: did not start${noWal}: ${fatal(why)}${why}` }
    case PG_EXIT.notReady:
      return { ok: false, detail: `${name}: did not start within ${Math.ceil(pg.startTimeoutMs / 1000)} s (postgresql.startTimeoutMs): ${fatal(why)}${why}` }
    case PG_EXIT.query:
      return { ok: false, detail: `${name}: started in ${took(o.ms.start)}, but the query failed: ${shortSql(pg.query)}: ${why}` }
    default:
      return { ok: false, detail: `${name}: test restore failed (exit ${code}): ${why}` }
  }
  if (!queryPasses(o.value)) {
    const got = o.value === undefined || o.value === '' ? 'no value' : JSON.stringify(o.value)
    return {
      ok: false,
      detail: `${name}: started in ${took(o.ms.start)}, but the query failed: ${shortSql(pg.query)} returned ${got}, not a number above 0 or true`,
    }
  }
  const extracted = [parts.base, parts.wal].filter(Boolean).join(' + ')
  const verified =
    o.ms.verify !== undefined
      ? `, pg_verifybackup passed (${took(o.ms.verify)})`
      : o.notes.length
        ? `, ${o.notes.join('; ')}`
        : parts.manifest
          ? ''
          : ', no backup_manifest to check against'
  return {
    ok: true,
    detail: `${name}: verified: ${extracted} extracted (${took(o.ms.extract)})${verified}, started in ${took(o.ms.start)}, ${shortSql(pg.query)} returned ${o.value} (${took(o.ms.query)}); stopped, scratch removed`,
  }
}

export const isPg = (b: Backup): b is Backup & { postgresql: PgBackup } => !!b.postgresql

/** What the integrity step learned that the restore needs: the bytes the archives list. */
export interface PgIntegrity extends PgVerdict {
  needBytes?: number
}

/** Each archive of the backup reads end to end (the compressor's CRC, then tar's listing). */
export async function pgIntegrity(s: NodeSession, b: Backup, a: Archive): Promise<PgIntegrity> {
  const parts = pgParts(a)
  if (!parts.base) return { ok: false, detail: `${a.name}: no base.tar* in it: not a pg_basebackup -Ft directory` }
  const read: string[] = []
  let needBytes = 0
  for (const f of [parts.base, parts.wal, ...parts.tablespaces].filter((x): x is string => !!x)) {
    const kind = pgKind(f)
    if (typeof kind === 'string') return { ok: false, detail: `${a.name}/${kind}` }
    const rt = parseReadThrough((await s.run({ script: readThroughScript(`${b.path}/${a.name}/${f}`, kind) }, { timeoutMs: LONG_TIMEOUT_MS })).stdout)
    if (!rt.ok)
      return { ok: false, detail: `${a.name}/${f} does not read end to end (${rt.error}): the backup is damaged; take a new one and find what truncated it` }
    const members = parseTarVerbose(rt.listing)
    needBytes += members.reduce((t, e) => t + (e.size ?? 0), 0)
    read.push(`${f} (${members.length} members)`)
  }
  const notes = [
    parts.manifest ? 'backup_manifest present' : 'no backup_manifest (taken with --no-manifest or before PostgreSQL 13)',
    ...(parts.wal ? [] : ['no pg_wal.tar*: the WAL must be inside base.tar (-X fetch)']),
    ...(parts.tablespaces.length ? [`tablespaces ${parts.tablespaces.join(', ')}: a test restore cannot open them`] : []),
  ]
  return { ok: true, detail: `${a.name}: ${read.join(', ')} read end to end; ${notes.join('; ')}`, needBytes }
}

/** --restore for a PostgreSQL backup: extract, pg_verifybackup, start, query, stop, clean up. */
export async function pgRestore(
  s: NodeSession,
  b: Backup & { postgresql: PgBackup },
  a: Archive,
  integ: PgIntegrity | undefined,
  timeoutMs = LONG_TIMEOUT_MS,
): Promise<PgVerdict> {
  if (!integ?.ok || integ.needBytes === undefined) return { ok: false, detail: `not attempted: ${a.name} does not read end to end` }
  const parts = pgParts(a)
  if (parts.tablespaces.length)
    return {
      ok: false,
      detail: `${a.name}: not attempted: it has tablespace archives (${parts.tablespaces.join(', ')}); a test restore of tablespaces is not supported`,
    }
  const pg = pgBackupSettings(b.postgresql)
  const kind = (f: string) => ({ name: f, flag: tarFlag(pgKind(f) as ArchiveKind) })
  const script = pgRestoreScript({
    dir: `${b.path}/${a.name}`,
    base: kind(parts.base!),
    wal: parts.wal ? kind(parts.wal) : undefined,
    manifest: parts.manifest,
    needBytes: integ.needBytes,
    pg,
  })
  try {
    const r = await s.run({ script }, { check: false, timeoutMs })
    return judgePgRestore(a.name, parts, pg, r.code, r.stdout, r.stderr)
  } catch (e) {
    // The node's watcher notices the closed channel: it stops the server and the script cleans up.
    if (e instanceof RemoteError && e.timedOut)
      return { ok: false, detail: `${a.name}: test restore stopped after ${took(timeoutMs)} (no answer); the node stops its server and removes the scratch` }
    throw e
  }
}
