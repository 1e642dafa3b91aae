// npx zx playbooks/pg-rejoin.ts [--inventory F] [--pair P]
// After a node that was down during a failover returns: makes every reachable node other than the
// live PostgreSQL primary a streaming standby of it (pg_rewind, or a fresh base backup), under the lock.
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { PG_REJOIN } from '../lib/options/pg-rejoin.ts'
import { EXIT } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { SshPool } from '../lib/ssh.ts'
import { rejoinPair } from '../lib/postgres/rejoin-pair.ts'

await runPlaybook(async () => {
  const args = parseArgs(PG_REJOIN)
  const inv = inventoryFrom(args)
  const pool = new SshPool(inv)
  try {
    for (const pair of findPair(inv, args.pair)) for (const line of await rejoinPair(inv, pool, pair)) console.log(`${pair.name}: ${line}`)
    return EXIT.ok
  } finally {
    pool.close()
  }
}, helpText(PG_REJOIN))
