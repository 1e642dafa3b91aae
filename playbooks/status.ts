// npx zx playbooks/status.ts [--inventory F] [--pair P] [--json]
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { STATUS } from '../lib/options/status.ts'
import { HapairError, InputError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import type { LoadedInventory } from '../lib/inventory/load.ts'
import type { Pair } from '../lib/inventory/schema.ts'
import { SshPool } from '../lib/ssh.ts'
import { formatStatus, pairStatus, type PairStatus } from '../lib/status.ts'

/** One pair's status; a pair that cannot be observed at all is reported degraded, and the other pairs still are. */
async function statusOf(inv: LoadedInventory, pair: Pair, pool: SshPool): Promise<PairStatus> {
  const started = Date.now()
  try {
    return await pairStatus(inv, pair, pool)
  } catch (e) {
    // The inventory's own fault (a key file that is not there) is bad input for every pair: exit 2, said once.
    if (e instanceof InputError) throw e
    const why =
      e instanceof HapairError
        ? e.message
        : `internal error (a bug in hapair, please report it): ${(e as Error)?.stack?.split('\n').slice(0, 2).join(' ') ?? e}`
    return {
      name: pair.name,
      active: '?',
      activeSource: 'inventory',
      epoch: 0,
      degraded: true,
      degradedReasons: [`status could not be observed: ${why}`],
      nodes: [],
      floatingIps: [],
      ms: Date.now() - started,
    }
  }
}

await runPlaybook(async () => {
  const args = parseArgs(STATUS)
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  const pool = new SshPool(inv)
  try {
    const started = Date.now()
    const result = await Promise.all(pairs.map((p) => statusOf(inv, p, pool)))
    if (args.json) console.log(JSON.stringify({ pairs: result, ms: Date.now() - started }, null, 2))
    else console.log(formatStatus(result) + `\n(${Date.now() - started} ms)`)
    return result.some((p) => p.degraded) ? 1 : 0
  } finally {
    pool.close()
  }
}, helpText(STATUS))
