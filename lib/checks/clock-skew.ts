// Seed 003: clocks synchronised (NTP). Each node against the controller's clock, corrected
// for the round trip; three readings over the open SSH connection, the tightest one counts.
import { perNode } from './node.ts'
import { estimateSkew, judgeSkew, parseRemoteClock, type SkewSample } from './skew.ts'
import type { Check } from './types.ts'

const SAMPLES = 3
const wallMs = () => performance.timeOrigin + performance.now()

export const clockSkewCheck: Check = {
  name: 'clock-skew',
  summary: "each node's clock against the controller's, corrected for round-trip time, within preconditions.maxClockSkewMs (500)",
  run: (ctx) =>
    perNode(ctx, 'clock-skew', async (_node, s) => {
      const max = ctx.pair.preconditions?.maxClockSkewMs ?? 500
      const samples: SkewSample[] = []
      for (let i = 0; i < SAMPLES; i++) {
        const sentMs = wallMs()
        const r = await s.run(['date', '+%s%N'])
        const receivedMs = wallMs()
        samples.push({ sentMs, receivedMs, remoteMs: parseRemoteClock(r.stdout) })
      }
      return judgeSkew(estimateSkew(samples), max)
    }),
}
