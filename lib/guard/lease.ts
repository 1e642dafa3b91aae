// The lease and its ledger as remote scripts (pure text, so they are tested without a node).
//
// The lease on the active node says until when its guard lets it keep the floating IPs and the
// singletons. Every other node keeps a ledger: the highest deadline any renewer ever issued for
// that active node. A renewal writes the ledgers first and the lease only after one of them took
// it, and a ledger takes nothing once the pair's lock directory exists. So a taker that holds the
// lock and reads the ledgers knows the latest deadline that can ever reach the active node, even
// from a renewer on another machine or a write that TCP delivers late.
import { lockDir } from '../lock.ts'
import type { Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import { guardFiles, type PairRef } from './script.ts'

/** Exit codes of the ledger write, told apart by the driver. */
export const LEDGER_EXIT = { locked: 10, guardDown: 11, busy: 75 } as const

export type LedgerState = 'armed' | 'disarmed'
export interface LedgerEntry {
  until: number
  epoch: number
  state: LedgerState
}

/** sh function `guard_pid`: prints the running guard's pid, or fails (no pid file, dead, or a recycled pid). */
export function guardPidFunction(pair: PairRef): string {
  const f = guardFiles(pair)
  return sh`guard_pid() { p=$(cat ${f.pid} 2>/dev/null); case $p in ''|*[!0-9]*) return 1 ;; esac; kill -0 "$p" 2>/dev/null || return 1; tr '\\0' '\\n' < "/proc/$p/cmdline" 2>/dev/null | grep -qxF ${f.script} || return 1; echo "$p"; }`
}

/**
 * On a survivor, under an exclusive flock: raises the active node's entry to `until` (never lowers
 * it) and sets its state. Refused (exit 10) while the pair's lock directory exists. The file is
 * synced before it replaces the old one: a survivor that crashes must not forget a deadline.
 * `until` 0 keeps the entry's deadline (disarm).
 */
export function ledgerWriteScript(pair: Pair, active: string, until: number, epoch: number, state: LedgerState): string {
  const f = guardFiles(pair)
  return (
    sh`d=${f.dir}; f=${f.ledger}; N=${active}; U=${String(until)}; E=${String(epoch)}; S=${state}` +
    `
mkdir -p "$d" || exit 1
exec 9>>` +
    sh`${f.ledgerLock}` +
    ` || exit 1
flock -w 2 9 || exit ${LEDGER_EXIT.busy}
if ` +
    sh`[ -d ${lockDir(pair)} ]` +
    `; then echo locked; exit ${LEDGER_EXIT.locked}; fi
out=
res=
if [ -f "$f" ]; then
  while read -r n u e s; do
    [ -n "$n" ] || continue
    if [ "$n" = "$N" ]; then
      case $u in ''|*[!0-9]*) u=0 ;; esac
      if [ "$U" -gt "$u" ]; then u=$U; e=$E; fi
      s=$S
      res="$u $e $s"
    fi
    out="$out$n $u $e $s
"
  done < "$f"
fi
if [ -z "$res" ]; then res="$U $E $S"; out="$out$N $res
"; fi
printf '%s' "$out" > "$f.tmp.$$" && sync "$f.tmp.$$" && mv -f "$f.tmp.$$" "$f" || { rm -f "$f.tmp.$$"; echo "cannot write $f" >&2; exit 1; }
echo "ok $res"`
  )
}

/** On a survivor, under a shared flock: the whole ledger (nothing when there is none). */
export function ledgerReadScript(pair: Pair): string {
  const f = guardFiles(pair)
  return sh`[ -d ${f.dir} ] || exit 0; exec 9>>${f.ledgerLock} || exit 1; flock -s -w 2 9 || exit ${String(LEDGER_EXIT.busy)}; cat ${f.ledger} 2>/dev/null; exit 0`
}

/** Every entry of a ledger, by active node; lines that are not entries are skipped. Pure. */
export function parseLedger(text: string): Map<string, LedgerEntry> {
  const out = new Map<string, LedgerEntry>()
  for (const line of text.split('\n')) {
    const [n, u, e, s] = line.trim().split(/\s+/)
    if (!n || !/^\d+$/.test(u ?? '') || (s !== 'armed' && s !== 'disarmed')) continue
    out.set(n, { until: Number(u), epoch: /^\d+$/.test(e ?? '') ? Number(e) : 0, state: s })
  }
  return out
}

/**
 * On the active node: replaces its lease in one rename. With `requireGuard`, refuses (exit 11)
 * when no guard runs there: a lease nobody enforces would make a taker believe a step-down that
 * never happens.
 */
export function leaseWriteScript(pair: Pair, until: number, epoch: number, requireGuard: boolean): string {
  const f = guardFiles(pair)
  const check = requireGuard ? `${guardPidFunction(pair)}\nguard_pid >/dev/null || { echo "no guard runs here" >&2; exit ${LEDGER_EXIT.guardDown}; }\n` : ''
  return check + sh`mkdir -p ${f.dir} && printf '%s %s\\n' ${String(until)} ${String(epoch)} > ${f.lease}.tmp.$$ && mv -f ${f.lease}.tmp.$$ ${f.lease}`
}

export const leaseRemoveScript = (pair: Pair) => sh`rm -f ${guardFiles(pair).lease}`

/** `UNTIL EPOCH` as written by leaseWriteScript; undefined for anything else. Pure. */
export function parseLease(text: string | undefined): { until: number; epoch: number } | undefined {
  const m = /^(\d+) (\d+)\s*$/.exec(text ?? '')
  return m ? { until: Number(m[1]), epoch: Number(m[2]) } : undefined
}
