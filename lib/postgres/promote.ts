// Promotion without losing what the old primary wrote: wait until the target has replayed the
// old primary's last WAL record (its shutdown checkpoint), then pg_promote and wait, in one
// server-side loop each (a round trip per poll would cost more than the wait itself).
import { HapairError } from '../errors.ts'
import type { PgSettings } from './config.ts'
import { base, PRELUDE, psql, type Exec } from './exec.ts'
import { isLsn } from './lsn.ts'

/** Replay strictly past `lsn`: pg_last_wal_replay_lsn is the end of the last record replayed, a checkpoint location its start. */
export async function waitReplay(exec: Exec, pg: PgSettings, lsn: string, timeoutMs = pg.replayTimeoutMs): Promise<string> {
  if (!isLsn(lsn)) throw new HapairError(`not a WAL position: ${lsn}`)
  const ms = Math.max(1, Math.floor(timeoutMs))
  const sql = `DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '${ms} milliseconds'; BEGIN
  WHILE coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) <= '${lsn}'::pg_lsn LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'hapair: replayed only to % after ${ms} ms, the old primary ended at ${lsn}', pg_last_wal_replay_lsn();
    END IF;
    PERFORM pg_sleep(0.002);
  END LOOP; END $$`
  await psql(exec, pg, sql, { timeoutMs: ms + 5000 })
  return psql(exec, pg, 'select pg_last_wal_replay_lsn()')
}

/**
 * Waits for replay past `after` (when given), then promotes, and returns once the server accepts
 * writes, in one statement: a round trip and a psql start-up less while nobody can write.
 * pg_promote's own wait polls every 100 ms, so it is asked not to wait and polled here.
 */
export async function replayThenPromote(
  exec: Exec,
  pg: PgSettings,
  after: string | undefined,
  timeoutMs = 30000,
): Promise<{ replayed: string; replayMs: number; promoteMs: number }> {
  if (after !== undefined && !isLsn(after)) throw new HapairError(`not a WAL position: ${after}`)
  const wait = Math.max(1, Math.floor(pg.replayTimeoutMs))
  const sql = `DO $$ DECLARE t0 timestamptz := clock_timestamp(); t1 timestamptz; deadline timestamptz := clock_timestamp() + interval '${wait} milliseconds'; BEGIN
  ${
    after === undefined
      ? ''
      : `WHILE pg_is_in_recovery() AND coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) <= '${after}'::pg_lsn LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'hapair: replayed only to % after ${wait} ms, the old primary ended at ${after}', pg_last_wal_replay_lsn();
    END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;`
  }
  t1 := clock_timestamp();
  RAISE NOTICE 'hapair-replayed % %', pg_last_wal_replay_lsn(), round(extract(epoch from t1 - t0) * 1000);
  IF pg_is_in_recovery() THEN PERFORM pg_promote(false); END IF;
  deadline := clock_timestamp() + interval '${Math.floor(timeoutMs)} milliseconds';
  WHILE pg_is_in_recovery() LOOP
    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'hapair: still in recovery ${Math.floor(timeoutMs)} ms after pg_promote'; END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;
  RAISE NOTICE 'hapair-promoted %', round(extract(epoch from clock_timestamp() - t1) * 1000);
  END $$`
  const r = await exec(`${PRELUDE}as "$B/psql" -XAtq -v ON_ERROR_STOP=1 -h "$S" -p "$P" -d postgres -c "$1" 2>&1`, [...base(pg), sql], {
    timeoutMs: wait + timeoutMs + 5000,
  })
  if (r.code !== 0) throw new HapairError(`promotion: ${(r.stdout || r.stderr).trim().split('\n').slice(-2).join(' / ')}`)
  const rep = /hapair-replayed (\S+) (\d+)/.exec(r.stdout)
  const pro = /hapair-promoted (\d+)/.exec(r.stdout)
  return { replayed: rep?.[1] ?? '?', replayMs: Number(rep?.[2] ?? NaN), promoteMs: Number(pro?.[1] ?? NaN) }
}

/** Promotes and returns once the server accepts writes (pg_promote's own wait polls every 100 ms). */
export async function promote(exec: Exec, pg: PgSettings, timeoutMs = 30000): Promise<void> {
  const sql = `DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '${Math.floor(timeoutMs)} milliseconds'; BEGIN
  IF pg_is_in_recovery() THEN PERFORM pg_promote(false); END IF;
  WHILE pg_is_in_recovery() LOOP
    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'hapair: still in recovery ${Math.floor(timeoutMs)} ms after pg_promote'; END IF;
    PERFORM pg_sleep(0.002);
  END LOOP; END $$`
  await psql(exec, pg, sql, { timeoutMs: timeoutMs + 5000 })
}
