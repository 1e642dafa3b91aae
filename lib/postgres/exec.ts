// How lib/postgres runs things on a node: a fixed sh script with positional arguments, so no
// inventory value is ever spliced into shell text. Over SSH (NodeSession) for hapair itself;
// the lab passes its own runner (nsenter into the node) while it builds the cluster.
import { HapairError } from '../errors.ts'
import type { NodeSession } from '../ssh.ts'
import type { PgSettings } from './config.ts'

export interface ExecResult {
  code: number | null
  stdout: string
  stderr: string
}
export type Exec = (script: string, args: (string | number)[], opts?: { timeoutMs?: number; input?: string }) => Promise<ExecResult>

export function sessionExec(s: NodeSession): Exec {
  return (script, args, opts = {}) =>
    s.run(['sh', '-c', script, 'hapair-pg', ...args.map(String)], { check: false, timeoutMs: opts.timeoutMs ?? 30000, input: opts.input })
}

/**
 * The first positional arguments of every script: bin dir, data dir, OS user, socket dir, port.
 * `as` runs a command as the server's user from / (root's cwd is not readable by it).
 */
export const PRELUDE = `set -u
cd /
B=$1 D=$2 U=$3 S=$4 P=$5
shift 5
as() { runuser -u "$U" -- "$@"; }
`
export const base = (pg: PgSettings) => [pg.binDir, pg.dataDir, pg.osUser, pg.socketDir, pg.port]

/** One SQL statement over the local socket as the server's user; stdout unaligned, tuples only. */
export async function psql(exec: Exec, pg: PgSettings, sql: string, opts: { timeoutMs?: number; db?: string } = {}): Promise<string> {
  const r = await exec(`${PRELUDE}as "$B/psql" -XAtq -v ON_ERROR_STOP=1 -h "$S" -p "$P" -d "$1" -c "$2"`, [...base(pg), opts.db ?? 'postgres', sql], {
    timeoutMs: opts.timeoutMs,
  })
  if (r.code !== 0) throw new HapairError(`psql: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ') || `exit ${r.code}`}`)
  return r.stdout.trim()
}

/** SQL string literal (standard_conforming_strings is on since 9.1). */
export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`

/**
 * Shell: removes "$D/postmaster.pid" when its PID is gone or a zombie (empty cmdline) and exits
 * the snippet's status 1 then, 0 otherwise. A postmaster killed with its machine (power cut,
 * fence) may linger as a zombie until init reaps it: pg_ctl takes its PID for a live server (and
 * waits 60 s for it to stop), and the server's own start and pg_rewind's crash recovery refuse
 * the lock file while that PID exists.
 */
export const DROP_STALE_PIDFILE = `{ pm=$(head -n 1 "$D/postmaster.pid" 2>/dev/null)
  case $pm in ''|*[!0-9]*) true ;; *) grep -q . "/proc/$pm/cmdline" 2>/dev/null || { rm -f "$D/postmaster.pid"; false; } ;; esac; }`
