// Reaching a host from a node: TCP connect when a port is known, ICMP echo when not (a
// gateway). Timed inside bash with $EPOCHREALTIME around the connect alone, so the time it
// takes to start a process is not counted as network latency.
export interface Target {
  label: string
  host: string
  port?: number
}
export type ProbeResult = { ok: true; ms: number; via: 'tcp' | 'ping' } | { ok: false; error: string }

// Arguments: seconds attempts host port [host port…]; port "-" means ping. One line per target.
export const PROBE_SCRIPT = String.raw`export LC_ALL=C
t=$1; n=$2; shift 2
while [ $# -ge 2 ]; do
  h=$1; p=$2; shift 2
  if [ "$p" = - ]; then
    out=$(ping -n -c "$n" -i 0.2 -W "$t" "$h" 2>&1)
    rtt=$(printf '%s\n' "$out" | sed -n 's|.*= *\([0-9.]*\)/\([0-9.]*\)/.*|\2|p')
    if [ -n "$rtt" ]; then echo "ok ping $rtt"; else echo "fail $(printf '%s' "$out" | tail -n 1)"; fi
    continue
  fi
  line="ok tcp"
  k=0
  while [ $k -lt "$n" ]; do
    k=$((k + 1))
    r=$(timeout "$t" bash -c 's=$EPOCHREALTIME; exec 3<>"/dev/tcp/$0/$1" || exit 1; e=$EPOCHREALTIME; echo "$s $e"' "$h" "$p" 2>&1)
    rc=$?
    if [ $rc -eq 124 ]; then line="fail no answer within $t s"; break; fi
    if [ $rc -ne 0 ]; then line="fail $(printf '%s' "$r" | tail -n 1 | sed 's/^.*: //')"; break; fi
    line="$line $r"
  done
  echo "$line"
done`

export function probeArgs(targets: Target[], timeoutS: number, attempts: number): string[] {
  return ['bash', '-c', PROBE_SCRIPT, 'probe', String(timeoutS), String(attempts), ...targets.flatMap((t) => [t.host, t.port ? String(t.port) : '-'])]
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Parses one line per target: "ok tcp s e [s e…]", "ok ping AVG", "fail REASON". */
export function parseReach(stdout: string, count: number): ProbeResult[] {
  const lines = stdout.split('\n').filter((l) => l.length)
  if (lines.length !== count) throw new Error(`probe: expected ${count} lines, got ${lines.length}: ${stdout.slice(0, 200)}`)
  return lines.map((l): ProbeResult => {
    const w = l.split(' ')
    if (w[0] === 'ok' && w[1] === 'ping' && Number.isFinite(Number(w[2]))) return { ok: true, ms: Number(w[2]), via: 'ping' }
    if (w[0] === 'ok' && w[1] === 'tcp' && w.length >= 4 && w.length % 2 === 0) {
      const times: number[] = []
      for (let i = 2; i < w.length; i += 2) times.push((Number(w[i + 1]) - Number(w[i])) * 1000)
      if (times.every(Number.isFinite)) return { ok: true, ms: median(times), via: 'tcp' }
    }
    const reason = l.replace(/^fail ?/, '').trim()
    return { ok: false, error: reason || 'no answer' }
  })
}

export const describeTarget = (t: Target) => `${t.label} ${t.port ? `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}` : t.host}`
