// The lease guard that runs on every node of a pair fenced by lease (issue 10): a POSIX sh loop
// with no dependency on hapair, node or the network, so it keeps working exactly when the node is
// cut off from everything else. Its whole job is to give up the pair's floating IPs and stop its
// singletons once the lease the watcher renews has run out. It never adds an address or starts
// anything: getting the service back is the failover tool's decision, never the guard's.
//
// The script text is the same for every pair and node; what differs lives in the config, a sh
// file written by the install with every value quoted (lib/shell.ts), read with `.`.
import { stateDir } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { shq } from '../shell.ts'

/** How often the guard looks at its lease; the taker adds it to the time it waits. */
export const GUARD_POLL_MS = 100

/** All the guard code needs of a pair to find its files (power-on in the lab knows no more). */
export type PairRef = Pick<Pair, 'name' | 'stateDir'>

/** Files of the guard and its lease, all in the pair's state dir on the node (per node in the lab). */
export function guardFiles(pair: PairRef) {
  const d = stateDir(pair as Pair)
  return {
    dir: d,
    script: `${d}/guard.sh`,
    config: `${d}/guard.conf`,
    pid: `${d}/guard.pid`,
    /** One line: `armed|disarmed|expired|stepped-down UNTIL EPOCH AT_MS`, rewritten on each change. */
    state: `${d}/guard.state`,
    /** One line per step-down (and per failed one), appended. */
    log: `${d}/guard.log`,
    /** The guard's own stdout/stderr when it was not started by systemd. */
    out: `${d}/guard.out`,
    /** On the active node: `UNTIL_MS EPOCH`, the wall-clock deadline of its lease. */
    lease: `${d}/lease`,
    /** On every other node: `NODE MAX_UNTIL EPOCH armed|disarmed` per active node ever renewed. */
    ledger: `${d}/lease-ledger`,
    ledgerLock: `${d}/lease-ledger.lock`,
  }
}

export interface GuardAddress {
  address: string
  prefix: number
  iface: string
  announcerPid: string
}
export interface GuardSingleton {
  name: string
  status: string
  stop: string
}
export interface GuardConfig {
  pair: string
  node: string
  stateDir: string
  pollMs: number
  addresses: GuardAddress[]
  singletons: GuardSingleton[]
  /** The watchdog device the guard pets, when the pair has one. */
  watchdog?: string
}

const isV6 = (a: string) => a.includes(':')

/**
 * The pid file of the gratuitous-ARP announcer lib/drivers/ip-linux.ts starts for an address:
 * the same formula as its announcerPid(), so a stepping-down node silences a late announcement.
 */
export const announcerPidFile = (address: string) => `/run/hapair/garp-${address.replace(/[^0-9A-Za-z]/g, '_')}.pid`

/** What the guard on `node` must give up: the addresses the OS holds (linux driver) and the singletons. */
export function guardConfig(pair: Pair, node: Node): GuardConfig {
  return {
    pair: pair.name,
    node: node.name,
    stateDir: stateDir(pair),
    pollMs: GUARD_POLL_MS,
    // Cloud-driver addresses are not on the node's interface: the provider moves them, the guard cannot.
    addresses: (pair.floatingIps ?? [])
      .filter((f) => f.driver === 'linux')
      .map((f) => ({
        address: f.address,
        prefix: f.prefix ?? (isV6(f.address) ? 64 : 32),
        iface: f.interface ?? node.interface ?? 'eth0',
        announcerPid: announcerPidFile(f.address),
      })),
    singletons: (pair.services ?? []).filter((s) => s.singleton).map((s) => ({ name: s.name, status: s.status, stop: s.stop })),
    ...(pair.fencing?.lease?.watchdog ? { watchdog: pair.fencing.lease.watchdog.device ?? '/dev/watchdog' } : {}),
  }
}

/** The config as sh: variables and two list functions, every value a single quoted word. */
export function configText(c: GuardConfig): string {
  const poll = (c.pollMs / 1000).toFixed(3)
  const lines = [
    '# hapair lease guard config (written by playbooks/guard.ts install; a re-install replaces it)',
    `GUARD_PAIR=${shq(c.pair)}`,
    `GUARD_NODE=${shq(c.node)}`,
    `GUARD_STATE_DIR=${shq(c.stateDir)}`,
    `GUARD_POLL=${shq(poll)}`,
    `GUARD_WATCHDOG=${shq(c.watchdog ?? '')}`,
    '# address prefix interface announcer-pid-file',
    'guard_addresses() {',
    ...c.addresses.map((a) => `  guard_address ${[a.address, String(a.prefix), a.iface, a.announcerPid].map(shq).join(' ')}`),
    '  :',
    '}',
    '# name status-command stop-command',
    'guard_singletons() {',
    ...c.singletons.map((s) => `  guard_singleton ${[s.name, s.status, s.stop].map(shq).join(' ')}`),
    '  :',
    '}',
    '',
  ]
  return lines.join('\n')
}

/** The guard itself: `sh guard.sh CONFIG`. */
export function guardScript(): string {
  return `#!/bin/sh
# hapair lease guard (written by playbooks/guard.ts install; a re-install replaces it).
# usage: guard.sh CONFIG
# While this node's lease ($GUARD_STATE_DIR/lease: "UNTIL_MS EPOCH", a wall-clock deadline) is fresh it
# does nothing. Once the lease has run out it deletes the pair's floating IPs from this node and stops
# its singletons, once per lease, and logs it. No lease file: disarmed (manual operation), it does
# nothing at all. It never adds an address or starts anything.
case \${1:-} in /*) ;; *) echo "usage: guard.sh /absolute/path/to/guard.conf" >&2; exit 2 ;; esac
[ -r "$1" ] || { echo "guard: cannot read $1" >&2; exit 2; }
# ip lives in sbin, which a minimal PATH may lack; the caller's PATH comes first.
PATH=\${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
. "$1"
d=$GUARD_STATE_DIR
lease=$d/lease
statef=$d/guard.state
logf=$d/guard.log
mkdir -p "$d" || exit 1
echo $$ > "$d/guard.pid.tmp.$$" && mv -f "$d/guard.pid.tmp.$$" "$d/guard.pid" || exit 1

# The watchdog, when configured, stays open for the guard's whole life: closed without the magic
# "V" (the guard killed or crashed) it keeps counting, and the node is reset unless a restarted
# guard opens it again in time. Stopped on purpose (TERM, INT), the guard disarms it.
pet() { :; }
if [ -n "\${GUARD_WATCHDOG:-}" ]; then
  exec 3>"$GUARD_WATCHDOG" || { echo "guard: cannot open the watchdog $GUARD_WATCHDOG" >&2; exit 1; }
  pet() { printf . >&3; }
  trap 'printf V >&3; exit 0' TERM INT
fi

now_ms() { date +%s%3N; }
stamp() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
say() {
  line="$(stamp) $*"
  printf '%s\\n' "$line"
  printf '%s\\n' "$line" >> "$logf"
}
# The state file changes only with the state (not with every renewal): status reads the lease itself.
cur=
set_state() {
  case $1 in armed) key="armed $3" ;; disarmed) key=disarmed ;; *) key="$1 $2 $3" ;; esac
  [ "$cur" = "$key" ] && return 0
  cur=$key
  printf '%s %s %s %s\\n' "$1" "$2" "$3" "$(now_ms)" > "$statef.tmp.$$" && mv -f "$statef.tmp.$$" "$statef"
}

# guard_address and guard_singleton are called by the config's lists, in the current mode.
mode=check
held=0
released=
stopped=
failed=
holds_address() {
  ip -o addr show dev "$3" 2>/dev/null | A=$1 awk '{ for (i = 1; i < NF; i++) if (($i == "inet" || $i == "inet6") && index($(i + 1), ENVIRON["A"] "/") == 1) f = 1 } END { exit !f }'
}
guard_address() {
  case $mode in
    check) holds_address "$@" && held=1 ;;
    release)
      # A late announcement from here would point neighbours back at this node.
      [ -f "$4" ] && { kill "$(cat "$4" 2>/dev/null)" 2>/dev/null; rm -f "$4"; }
      # Straight to the delete, no look first: on a starved node every process the guard starts
      # before it is time the address stays. The delete fails when the address is not here.
      if ip addr del "$1/$2" dev "$3" 2>/dev/null; then released="$released $1"
      elif holds_address "$@"; then failed="$failed $1"; fi ;;
  esac
}
guard_singleton() {
  sh -c "$2" >/dev/null 2>&1 </dev/null || return 0
  case $mode in
    check) held=1 ;;
    release) if sh -c "$3" >/dev/null 2>&1 </dev/null; then stopped="$stopped $1"; else failed="$failed $1"; fi ;;
  esac
}
holding() { mode=check; held=0; guard_addresses; guard_singletons; [ "$held" = 1 ]; }

# The lease this guard already gave everything up for: a restart must not act on it twice (the node
# may be active again by a later failover that did not renew it).
done_for=
if [ -r "$statef" ]; then
  read -r w u e _ < "$statef" || true
  case $w in expired|stepped-down) done_for="$u $e" ;; esac
fi

while :; do
  if [ -f "$lease" ]; then
    until_ms=
    epoch=
    read -r until_ms epoch _ < "$lease" || true
    # An unreadable lease has run out: the safe reading.
    case $until_ms in ''|*[!0-9]*) until_ms=0 ;; esac
    case $epoch in ''|*[!0-9]*) epoch=0 ;; esac
    now=$(now_ms)
    # Petted only while the lease is fresh or nothing is held: a guard stuck before it has given
    # everything up stops petting, and the watchdog resets the node by the last fresh pet + timeout.
    if [ "$now" -le "$until_ms" ]; then
      pet
      set_state armed "$until_ms" "$epoch"
    elif [ "$done_for" != "$until_ms $epoch" ]; then
      late=$((now - until_ms))
      mode=release; released=; stopped=; failed=
      guard_addresses
      guard_singletons
      took=$(($(now_ms) - now))
      if holding; then
        say "step-down incomplete: pair=$GUARD_PAIR node=$GUARD_NODE until=$until_ms epoch=$epoch late_ms=$late released=\${released# } stopped=\${stopped# } failed=\${failed# }: retrying"
      elif [ -n "$released$stopped" ]; then
        pet
        say "stepped-down: pair=$GUARD_PAIR node=$GUARD_NODE until=$until_ms epoch=$epoch late_ms=$late took_ms=$took released=\${released# } stopped=\${stopped# }"
        set_state stepped-down "$until_ms" "$epoch"
        done_for="$until_ms $epoch"
      else
        pet
        set_state expired "$until_ms" "$epoch"
        done_for="$until_ms $epoch"
      fi
    else
      pet
    fi
  else
    pet
    set_state disarmed - -
  fi
  sleep "$GUARD_POLL"
done
`
}
