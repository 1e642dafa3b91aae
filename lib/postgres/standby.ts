// Turning a node into a standby of a primary: after a clean stop (the fence), pg_rewind when its
// history diverged (it runs crash recovery first when the node lost power), a fresh base backup
// when pg_rewind cannot, then standby.signal, primary_conninfo and its own slot on the primary.
import { HapairError } from '../errors.ts'
import type { Node } from '../inventory/schema.ts'
import { confString, primaryConninfo, rewindSource, slotName, syncStandbyNames, type PgSettings } from './config.ts'
import { base, DROP_STALE_PIDFILE, PRELUDE, psql, sqlString, type Exec } from './exec.ts'
import { parseControlData, type ControlData } from './controldata.ts'
import { probePg, type PgState } from './state.ts'

/**
 * Right after the fence stopped the server: what its control file says (a clean shutdown's
 * checkpoint is the last WAL record the target must replay), and standby.signal written, so
 * that whatever starts it next (an operator, a boot) starts a read-only standby, never a primary.
 */
export async function afterStop(exec: Exec, pg: PgSettings): Promise<ControlData | undefined> {
  const r = await exec(
    `${PRELUDE}
if as "$B/pg_ctl" status -D "$D" >/dev/null 2>&1; then echo "still running" >&2; exit 1; fi
[ -f "$D/PG_VERSION" ] || { echo "no cluster in $D" >&2; exit 1; }
as touch "$D/standby.signal"
LC_ALL=C "$B/pg_controldata" -D "$D"`,
    base(pg),
  )
  if (r.code !== 0) throw new HapairError(`after the fence: ${(r.stderr || r.stdout).trim()}`)
  return parseControlData(r.stdout)
}

export async function controlData(exec: Exec, pg: PgSettings): Promise<ControlData | undefined> {
  const r = await exec(`${PRELUDE}LC_ALL=C "$B/pg_controldata" -D "$D"`, base(pg))
  return r.code === 0 ? parseControlData(r.stdout) : undefined
}

/** The standby's slot on the primary, made when missing (it then keeps the WAL the standby still needs). */
export async function ensureSlot(primary: Exec, pg: PgSettings, standby: string): Promise<string> {
  const slot = slotName(pg, standby)
  await psql(
    primary,
    pg,
    `select pg_create_physical_replication_slot(${sqlString(slot)}, true) where not exists (select 1 from pg_replication_slots where slot_name = ${sqlString(slot)})`,
  )
  return slot
}

/** synchronous_standby_names on the primary (sync mode), reloaded at once. */
export async function setSyncStandbys(primary: Exec, pg: PgSettings, standbys: string[]): Promise<string> {
  const v = syncStandbyNames(standbys)
  await psql(primary, pg, `ALTER SYSTEM SET synchronous_standby_names = ${sqlString(v)}`)
  await psql(primary, pg, 'select pg_reload_conf()')
  return v
}

// Positional: primary_conninfo line, slot line, rewind source, basebackup conninfo, passfile.
// standby.signal is removed before pg_rewind: its crash recovery runs a single-user server,
// which refuses standby mode. Replication slots on the node are dropped: a standby keeps none,
// and a stale one would hold WAL there forever.
const REJOIN = `${PRELUDE}
CONN=$1 SLOT=$2 SRC=$3 BB=$4 PASS=$5
export PGPASSFILE="$PASS" PGCONNECT_TIMEOUT=5
${DROP_STALE_PIDFILE} || true
if as "$B/pg_ctl" status -D "$D" >/dev/null 2>&1; then as "$B/pg_ctl" stop -D "$D" -m fast -w -t 60 -s || exit 1; fi
how=rewind
if [ -f "$D/PG_VERSION" ]; then
  rm -f "$D/standby.signal"
  if out=$(as env PGPASSFILE="$PASS" "$B/pg_rewind" -D "$D" --source-server="$SRC" 2>&1); then
    case $out in *"no rewind required"*) how=none ;; esac
  else
    echo "pg_rewind failed: $(echo "$out" | tail -n 2 | tr '\\n' ' ')" >&2
    how=basebackup
  fi
else
  how=basebackup
fi
if [ $how = basebackup ]; then
  rm -rf "$D.hapair-new"
  mkdir -p "$D.hapair-new" && chown "$U:" "$D.hapair-new" && chmod 700 "$D.hapair-new" || exit 1
  as env PGPASSFILE="$PASS" "$B/pg_basebackup" -d "$BB" -D "$D.hapair-new" -X stream -c fast -N >&2 || { rm -rf "$D.hapair-new"; exit 1; }
  rm -rf "$D.hapair-old"
  if [ -d "$D" ]; then mv "$D" "$D.hapair-old" || exit 1; fi
  mv "$D.hapair-new" "$D" && rm -rf "$D.hapair-old"
fi
A="$D/postgresql.auto.conf"
touch "$A"
sed -i -e '/^[[:space:]]*primary_conninfo[[:space:]]*=/d' -e '/^[[:space:]]*primary_slot_name[[:space:]]*=/d' -e '/^[[:space:]]*synchronous_standby_names[[:space:]]*=/d' "$A"
printf '%s\\n%s\\n' "$CONN" "$SLOT" >>"$A"
rm -rf "$D"/pg_replslot/*
touch "$D/standby.signal"
chown "$U:" "$A" "$D/standby.signal"
echo "$how"
`

export interface RejoinResult {
  how: 'none' | 'rewind' | 'basebackup'
  slot: string
  ms: number
}

/** Makes `node` (stopped or running) a streaming standby of `primary`; its service start command starts it. */
export async function rejoinAsStandby(
  node: { exec: Exec; name: string; start: () => Promise<void> },
  primary: { exec: Exec; node: Node },
  pg: PgSettings,
  opts: { timeoutMs?: number; diagnose?: () => Promise<string> } = {},
): Promise<RejoinResult> {
  const t0 = Date.now()
  const slot = await ensureSlot(primary.exec, pg, node.name)
  // pg_rewind reads the source's timeline from its control file, which a fresh promotion updates
  // only at its next checkpoint: without one it rewinds against the old timeline (PostgreSQL docs).
  await psql(primary.exec, pg, 'CHECKPOINT', { timeoutMs: 120000 })
  const conn = primaryConninfo(pg, primary.node, node.name)
  const r = await node.exec(
    REJOIN,
    [...base(pg), `primary_conninfo = ${confString(conn)}`, `primary_slot_name = ${confString(slot)}`, rewindSource(pg, primary.node), conn, pg.passwordFile],
    { timeoutMs: opts.timeoutMs ?? 120000 },
  )
  if (r.code !== 0) throw new HapairError(`${node.name} cannot become a standby: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`)
  const how = r.stdout.trim().split('\n').pop() as RejoinResult['how']
  await node.start()
  try {
    await waitStreaming(primary.exec, pg, node.name, opts.timeoutMs ?? 30000)
  } catch (e) {
    const st = await probePg(node.exec, pg).catch(() => undefined)
    const more = opts.diagnose ? await opts.diagnose().catch(() => '') : ''
    throw new HapairError(
      `${(e as Error).message}; ${node.name} is ${st?.role ?? 'unknown'}, its WAL receiver ${st?.receiver?.status ?? 'not running'}${more ? `: ${more}` : ''}`,
    )
  }
  return { how, slot, ms: Date.now() - t0 }
}

/** Until the primary's pg_stat_replication shows `standby` streaming. */
export async function waitStreaming(primary: Exec, pg: PgSettings, standby: string, timeoutMs = 30000): Promise<void> {
  const ms = Math.floor(timeoutMs)
  await psql(
    primary,
    pg,
    `DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '${ms} milliseconds'; BEGIN
  WHILE NOT EXISTS (SELECT 1 FROM pg_stat_replication WHERE application_name = ${sqlString(standby)} AND state = 'streaming') LOOP
    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'hapair: % not streaming after ${ms} ms', ${sqlString(standby)}; END IF;
    PERFORM pg_sleep(0.01);
  END LOOP; END $$`,
    { timeoutMs: ms + 5000 },
  )
}

export type { PgState }
export { probePg }
