// Clock offset the way NTP estimates it: the remote reading is assumed to be taken halfway
// through the round trip, so the offset is known to within ± half the round trip. Of several
// samples the one with the shortest round trip is the tightest (NTP's clock filter).
export interface SkewSample {
  /** Controller clock just before the request left (ms since the epoch). */
  sentMs: number
  /** Controller clock just after the answer arrived. */
  receivedMs: number
  /** The node's clock as it answered. */
  remoteMs: number
}

export interface SkewEstimate {
  offsetMs: number
  rttMs: number
  boundMs: number
}

export function estimateSkew(samples: SkewSample[]): SkewEstimate {
  if (samples.length === 0) throw new Error('no clock samples')
  const best = [...samples].sort((a, b) => a.receivedMs - a.sentMs - (b.receivedMs - b.sentMs))[0]
  const rttMs = Math.max(0, best.receivedMs - best.sentMs)
  return { offsetMs: best.remoteMs - (best.sentMs + best.receivedMs) / 2, rttMs, boundMs: rttMs / 2 }
}

const fmt = (ms: number) => (Math.abs(ms) < 10 ? ms.toFixed(1) : ms.toFixed(0))

/** Passes only when the whole uncertainty interval is inside the limit: a skew we cannot rule out is not "within". */
export function judgeSkew(e: SkewEstimate, maxMs: number): { ok: boolean; detail: string } {
  const dir = e.offsetMs >= 0 ? 'ahead of' : 'behind'
  const what = `${fmt(Math.abs(e.offsetMs))} ms ${dir} the controller (± ${fmt(e.boundMs)} ms, max ${maxMs} ms)`
  if (Math.abs(e.offsetMs) + e.boundMs <= maxMs) return { ok: true, detail: what }
  if (Math.abs(e.offsetMs) - e.boundMs > maxMs)
    return { ok: false, detail: `clock ${what}: check NTP on the node (timedatectl, chronyc tracking) and on the controller` }
  return { ok: false, detail: `cannot tell: clock ${what}, round trip too long to decide; retry, or raise maxClockSkewMs` }
}

/** `date +%s%N` output in milliseconds (fractional). */
export function parseRemoteClock(stdout: string): number {
  const t = stdout.trim()
  if (!/^\d{10,}$/.test(t)) throw new Error(`unexpected clock reading "${t.slice(0, 40)}" (GNU date +%s%N expected)`)
  // Split to stay exact: nanoseconds since 1970 do not fit a double's 53 bits.
  return Number(t.slice(0, -6)) + Number(t.slice(-6)) / 1e6
}
