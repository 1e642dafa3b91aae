// Failover's half of the sync fence (lib/sync/lease.ts has sync's): end every sync lease on the
// nodes a failover has just locked, and kill the rsync processes recorded in them.
import { RemoteError } from '../errors.ts'
import { stateDir } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import type { SshPool } from '../ssh.ts'

/** The node-side fence refused: distinct from every rsync exit code. */
export const STOPPED_EXIT = 75
/** How long stopSyncs waits for an sftp sync (run by a controller, so it cannot be killed) to stop itself. */
const SFTP_STOP_WAIT_S = 5

export const leasesDir = (pair: Pair) => `${stateDir(pair)}/sync-leases`

/**
 * Called by a failover right after it holds its lock: every sync lease on those nodes is ended
 * (renamed away, so the sync's own checks fail), every rsync recorded in one is killed (TERM,
 * then KILL), and a sync moving files itself over sftp gets a few seconds to notice and stop.
 */
export async function stopSyncs(pool: SshPool, pair: Pair, nodes: (string | { name: string })[]): Promise<string> {
  const dir = leasesDir(pair)
  const script = sh`cd ${dir} 2>/dev/null || { echo 0; exit 0; }
n=0; pids=''
for l in *; do
  [ -d "$l" ] || continue
  case $l in *.stopping) ;; *) mv "$l" "$l.stopping" 2>/dev/null || continue; n=$((n+1)); l="$l.stopping" ;; esac
  for f in "$l"/pid.*; do
    [ -f "$f" ] || continue; p=$(cat "$f"); case $p in ''|*[!0-9]*) continue;; esac
    grep -q rsync /proc/$p/cmdline 2>/dev/null || continue
    kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null; pids="$pids $p"
  done
done
i=0; while [ $i -lt 20 ]; do alive=''; for p in $pids; do kill -0 $p 2>/dev/null && alive="$alive $p"; done; [ -z "$alive" ] && break; sleep 0.1; i=$((i+1)); done
for p in $alive; do kill -KILL -- -$p 2>/dev/null || kill -KILL $p 2>/dev/null; done
i=0; while [ $i -lt ${SFTP_STOP_WAIT_S * 10} ] && ls -d *.stopping/sftp >/dev/null 2>&1; do sleep 0.1; i=$((i+1)); done
late=$(ls -d *.stopping/sftp 2>/dev/null | wc -l)
rm -rf ./*.stopping
echo "$n $late"`
  const out: string[] = []
  let total = 0
  await Promise.all(
    nodes
      .map((x) => (typeof x === 'string' ? x : x.name))
      .map(async (n) => {
        try {
          const r = await pool.session(pair, n).run({ script }, { timeoutMs: 30_000 })
          const [count, late] = r.stdout.trim().split(/\s+/).map(Number)
          total += count || 0
          if (count) out.push(`stopped ${count} sync${count === 1 ? '' : 's'} on ${n}${late ? ` (${late} did not confirm within ${SFTP_STOP_WAIT_S} s)` : ''}`)
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e
          out.push(`could not ask ${n}: ${e.message}`)
        }
      }),
  )
  return total || out.length ? out.sort().join('; ') : 'no sync running'
}
