// Service checks the watcher runs continuously: from this host against every node's address
// and through every floating IP (lib/probe.ts, a fresh connection each time), and from a
// surviving node against the active one (voteScript, streamed over SSH), so a vote on a node
// that answers pings but serves nothing (hung, paused) uses the survivor's own view too.
import type { HealthCheck, Pair } from '../inventory/schema.ts'
import { probe } from '../probe.ts'
import type { NodeSession } from '../ssh.ts'
import { remoteStream, type Prober, type Track } from './ping.ts'

export interface CheckState {
  lastOk?: number
  lastFail?: number
  detail?: string
  since: number
}

export const networkChecks = (pair: Pair): { service: string; check: HealthCheck }[] =>
  (pair.services ?? []).flatMap((s) => s.checks.filter((c) => c.protocol !== 'command').map((check) => ({ service: s.name, check })))

export interface CheckTarget {
  key: string
  host: string
  service: string
  check: HealthCheck
  expect: () => string
}

/** Runs each target's probe every everyMs, never two at once for one target. */
export class CheckLoop {
  readonly state = new Map<string, CheckState>()
  private timer?: NodeJS.Timeout
  private busy = new Set<string>()
  constructor(
    private targets: CheckTarget[],
    private everyMs: number,
    private timeoutMs: number,
  ) {
    const now = Date.now()
    for (const t of targets) this.state.set(t.key, { since: now })
  }

  start(): void {
    const tick = () => {
      for (const t of this.targets) void this.one(t)
    }
    tick()
    this.timer = setInterval(tick, this.everyMs)
  }

  private async one(t: CheckTarget): Promise<void> {
    if (this.busy.has(t.key)) return
    this.busy.add(t.key)
    try {
      const r = await probe(t.host, { ...t.check, timeoutMs: Math.min(t.check.timeoutMs ?? 2000, this.timeoutMs) }, t.expect())
      const s = this.state.get(t.key)!
      if (r.ok) s.lastOk = Date.now()
      else s.lastFail = Date.now()
      s.detail = r.detail
    } finally {
      this.busy.delete(t.key)
    }
  }

  /** Fresh evidence only from now on (after the watcher itself was stalled). */
  reset(now = Date.now()): void {
    for (const s of this.state.values()) {
      s.since = now
      s.lastOk = undefined
      s.lastFail = undefined
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/**
 * Runs on a surviving node: every interval, every network check of the active's address, one
 * line per round: "ok" when any answered as expected (the question is whether anything above the
 * kernel answers: a frozen node answers nothing), "fail <n>" when none did. bash's /dev/tcp
 * keeps it to what every Debian node has; each attempt is bounded by timeout(1), and grep
 * stops at the first match (a server that keeps the connection open is not a failure).
 * Arguments: interval_s timeout_s, then per check: host port send expect.
 */
export const VOTE_SCRIPT = String.raw`iv=$1; to=$2; shift 2
while :; do
  bad=0; set -- "$@"; n=$#; i=0
  while [ $i -lt $n ]; do
    h=$1; p=$2; s=$3; e=$4; shift 4; set -- "$@" "$h" "$p" "$s" "$e"; i=$((i+4))
    if [ -n "$e" ]; then
      timeout "$to" bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; printf %s "$3" >&3; grep -qF -m1 -- "$4" <&3' vote "$h" "$p" "$s" "$e" 2>/dev/null || bad=$((bad+1))
    else
      timeout "$to" bash -c 'exec 3<>"/dev/tcp/$1/$2"' vote "$h" "$p" 2>/dev/null || bad=$((bad+1))
    fi
  done
  if [ $bad -lt $((n / 4)) ]; then echo ok; else echo "fail $bad"; fi
  sleep "$iv"
done`

/**
 * VOTE_SCRIPT's loop in perl, with no process started per check: at 20 pairs the shell version's
 * timeout, bash and grep per check, and a sleep per round, every 0.5 s on every survivor, were
 * hundreds of execs a second that kept a 2-core lab host at load 25 to 35, and the watcher on it
 * late. Only perl-base modules (Socket, Fcntl); one budget of timeout_s per attempt, connect and
 * reply together (select's time left carries it over), as timeout(1) bounds the shell's.
 * Same arguments, same lines.
 */
export const VOTE_PERL = String.raw`use strict; use Socket; use Fcntl;
$| = 1;
my ($iv, $to, @a) = @ARGV;
my @c; push @c, [splice(@a, 0, 4)] while @a;
sub ready { my ($k, $write, $left) = @_; my $v = ''; vec($v, fileno $k, 1) = 1;
  my ($n, $tl) = $write ? select(undef, $v, undef, $left) : select($v, undef, undef, $left); ($n > 0, $tl // 0) }
sub check { my ($h, $p, $s, $e) = @_; my $left = $to; my $ok;
  my $ip = inet_aton($h) or return 0;
  socket(my $k, PF_INET, SOCK_STREAM, 0) or return 0;
  fcntl($k, F_SETFL, fcntl($k, F_GETFL, 0) | O_NONBLOCK) or return 0;
  unless (connect($k, sockaddr_in($p, $ip))) {
    return 0 unless $!{EINPROGRESS};
    ($ok, $left) = ready($k, 1, $left);
    return 0 unless $ok && !unpack('i', getsockopt($k, SOL_SOCKET, SO_ERROR));
  }
  return 1 if $e eq '';
  if (length $s) { my $n = syswrite($k, $s); return 0 unless defined $n && $n == length $s }
  my $buf = '';
  while ($left > 0) {
    ($ok, $left) = ready($k, 0, $left);
    return 0 unless $ok;
    my $n = sysread($k, my $d, 4096);
    return 0 unless $n;
    $buf .= $d;
    return 1 if index($buf, $e) >= 0;
    $buf = substr($buf, -length $e) if length $buf > 65536;
  }
  0 }
for (;;) {
  my $bad = 0;
  for (@c) { $bad++ unless check(@$_) }
  print $bad < @c ? "ok
" : "fail $bad
";
  select(undef, undef, undef, $iv);
}`

/** The vote loop's argv: perl where the node has it (every Debian), else the shell version. */
export function voteCommand(everyMs: number, timeoutMs: number, args: string[]): string[] {
  const pick = 'p=$1; b=$2; shift 2; if command -v perl >/dev/null 2>&1; then exec perl -e "$p" -- "$@"; fi; exec bash -c "$b" hapair-vote "$@"'
  return ['sh', '-c', pick, 'hapair-vote', VOTE_PERL, VOTE_SCRIPT, (everyMs / 1000).toFixed(3), (timeoutMs / 1000).toFixed(3), ...args]
}

/** The request each check sends and the text that proves the answer came from `node`. */
export function voteArgs(host: string, checks: HealthCheck[], node: string): string[] {
  const out: string[] = []
  for (const c of checks) {
    const exp = (s?: string) => s?.replaceAll('{node}', node) ?? ''
    if (c.protocol === 'http') {
      out.push(host, String(c.port), `GET ${c.path ?? '/'} HTTP/1.0\r\nHost: ${host}\r\n\r\n`, exp(c.expectBody) || `HTTP/1.`)
    } else {
      out.push(host, String(c.port), c.send ?? '', exp(c.expect))
    }
  }
  return out
}

export interface VoteTrack extends Track {
  checksOk?: number
}

/** The survivor's continuous view of the active's services. */
export function remoteChecks(
  session: NodeSession,
  host: string,
  checks: HealthCheck[],
  node: string,
  everyMs: number,
  timeoutMs: number,
): Prober & { track: VoteTrack } {
  const argv = voteCommand(everyMs, timeoutMs, voteArgs(host, checks, node))
  return remoteStream(session, argv, (t: VoteTrack, line) => {
    const now = Date.now()
    t.line = now
    if (line === 'ok') {
      t.checksOk = now
      t.replies++
    } else t.misses++
  }) as Prober & { track: VoteTrack }
}
