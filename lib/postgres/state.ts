// What one node's PostgreSQL is now, in one round trip: whether the server runs, its role,
// WAL positions, replication (as a standby: its receiver; as a primary: its standbys and slots),
// timeline and settings; pg_controldata always (cheap), which is all there is when it is down.
import type { PgSettings } from './config.ts'
import { base, PRELUDE, type Exec } from './exec.ts'
import { parseControlData, type ControlData } from './controldata.ts'
import { isLsn } from './lsn.ts'

export interface Receiver {
  status: string
  host: string | null
  timeline: number | null
  latestEnd: string | null
  latestEndAgeS: number | null
}
export interface Replica {
  name: string
  state: string
  sync: string
  flush: string | null
  replay: string | null
  addr: string | null
}
export interface Slot {
  name: string
  active: boolean
  restart: string | null
}

export interface PgState {
  /** primary: running, not in recovery; standby: running in recovery; down: not running; unknown: running but not answering SQL. */
  role: 'primary' | 'standby' | 'down' | 'unknown'
  running: boolean
  timeline?: number
  /** Primary: WAL flushed locally. */
  flush?: string
  /** Standby: WAL received (flushed) and replayed. */
  receive?: string
  replay?: string
  replayPaused?: boolean
  receiver?: Receiver
  replicas: Replica[]
  slots: Slot[]
  walLogHints?: boolean
  checksums?: boolean
  syncNames?: string
  control?: ControlData
  error?: string
}

export const PROBE_SQL = `select json_build_object(
 'recovery', pg_is_in_recovery(),
 'flush', case when pg_is_in_recovery() then null else pg_current_wal_flush_lsn()::text end,
 'walfile', case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_flush_lsn()) end,
 'receive', pg_last_wal_receive_lsn()::text,
 'replay', pg_last_wal_replay_lsn()::text,
 'paused', case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() <> 'not paused' else null end,
 'receiver', (select json_build_object('status', status, 'host', sender_host, 'tli', received_tli, 'latestEnd', latest_end_lsn::text,
    'age', extract(epoch from now() - latest_end_time)) from pg_stat_wal_receiver limit 1),
 'replicas', (select coalesce(json_agg(json_build_object('name', application_name, 'state', state, 'sync', sync_state,
    'flush', flush_lsn::text, 'replay', replay_lsn::text, 'addr', host(client_addr))), '[]'::json) from pg_stat_replication),
 'slots', (select coalesce(json_agg(json_build_object('name', slot_name, 'active', active, 'restart', restart_lsn::text)), '[]'::json)
    from pg_replication_slots where slot_type = 'physical'),
 'ckptTli', (select timeline_id from pg_control_checkpoint()),
 'walLogHints', current_setting('wal_log_hints'),
 'checksums', current_setting('data_checksums'),
 'syncNames', current_setting('synchronous_standby_names'))`

const SCRIPT = `${PRELUDE}
if as "$B/pg_ctl" status -D "$D" >/dev/null 2>&1; then
  if out=$(as "$B/psql" -XAtq -h "$S" -p "$P" -d postgres -c "$1" 2>&1); then echo "json $out"; else echo "sqlerr $out" | tr '\\n' ' '; echo; fi
else
  echo down
fi
echo '--control'
LC_ALL=C "$B/pg_controldata" -D "$D" 2>&1 || true
`

/** Pure: the probe script's output to a state. */
export function parseProbe(out: string): PgState {
  const [head, control = ''] = out.split('--control\n')
  const ctl = parseControlData(control)
  const st: PgState = {
    role: 'down',
    running: false,
    replicas: [],
    slots: [],
    control: ctl,
    walLogHints: ctl?.walLogHints,
    checksums: ctl?.checksums,
    timeline: ctl?.timeline,
  }
  const line = head.trim().split('\n').pop() ?? ''
  if (line === 'down' || line === '') return st
  st.running = true
  if (line.startsWith('sqlerr')) return { ...st, role: 'unknown', error: line.slice(7).trim() }
  let j: any
  try {
    j = JSON.parse(line.slice(5))
  } catch {
    return { ...st, role: 'unknown', error: `unreadable probe output: ${line.slice(0, 120)}` }
  }
  const lsn = (x: unknown) => (isLsn(x) ? x : undefined)
  st.role = j.recovery ? 'standby' : 'primary'
  st.flush = lsn(j.flush)
  st.receive = lsn(j.receive)
  st.replay = lsn(j.replay)
  st.replayPaused = j.paused ?? undefined
  st.receiver = j.receiver
    ? {
        status: j.receiver.status,
        host: j.receiver.host ?? null,
        timeline: j.receiver.tli ?? null,
        latestEnd: lsn(j.receiver.latestEnd) ?? null,
        latestEndAgeS: j.receiver.age ?? null,
      }
    : undefined
  st.replicas = (j.replicas ?? []).map((r: any) => ({
    name: r.name,
    state: r.state,
    sync: r.sync,
    flush: lsn(r.flush) ?? null,
    replay: lsn(r.replay) ?? null,
    addr: r.addr ?? null,
  }))
  st.slots = (j.slots ?? []).map((s: any) => ({ name: s.name, active: !!s.active, restart: lsn(s.restart) ?? null }))
  // The primary's current timeline is in its WAL file name; a standby follows the one it receives.
  st.timeline = typeof j.walfile === 'string' ? parseInt(j.walfile.slice(0, 8), 16) : (j.receiver?.tli ?? j.ckptTli ?? st.timeline)
  st.walLogHints = j.walLogHints === 'on'
  st.checksums = j.checksums === 'on'
  st.syncNames = j.syncNames
  return st
}

export async function probePg(exec: Exec, pg: PgSettings): Promise<PgState> {
  const r = await exec(SCRIPT, [...base(pg), PROBE_SQL], { timeoutMs: 10000 })
  if (r.code !== 0) return { role: 'unknown', running: false, replicas: [], slots: [], error: (r.stderr || r.stdout).trim() || `exit ${r.code}` }
  return parseProbe(r.stdout)
}

/** Streaming now, from the expected host when one is given. */
export const streaming = (st: PgState, from?: string) => st.role === 'standby' && st.receiver?.status === 'streaming' && (!from || st.receiver.host === from)
