// The pair's records against what runs: a corrupt active.json, a record the VIP or a singleton
// contradicts, an epoch far ahead of the others. The same findings make sync and failover refuse.
import type { Check, CheckResult } from './types.ts'

export const recordsCheck: Check = {
  name: 'records',
  summary: "each node's records are readable and agree with where the floating IPs and singletons are",
  async run(ctx) {
    return ctx.reachable.map((n): CheckResult => {
      // A contradiction belongs to the node the records name as active; a bad file to its node.
      const mine = ctx.problems.filter((p) => (p.node ?? ctx.active) === n.name)
      return {
        pair: ctx.pair.name,
        node: n.name,
        check: 'records',
        ok: mine.length === 0,
        detail: mine.length
          ? `${mine.map((p) => p.detail).join('; ')}: see the README's failure states (failover --to NODE --resolve)`
          : 'records readable and agree with what runs',
        ms: 0,
      }
    })
  },
}
