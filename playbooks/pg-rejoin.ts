// npx zx playbooks/pg-rejoin.ts [--inventory F] [--pair P]
// After a node that was down during a failover returns: makes every reachable node other than the
// live PostgreSQL primary a streaming standby of it (pg_rewind, or a fresh base backup), under the lock.
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { EXIT } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { SshPool } from '../lib/ssh.ts'
import { rejoinPair } from '../lib/postgres/rejoin-pair.ts'

const usage = `usage: npx zx playbooks/pg-rejoin.ts [--inventory FILE] [--pair NAME]
  Every reachable node but the recorded active one (which must be the one PostgreSQL primary) is
  rewound into a streaming standby of it; in sync mode synchronous_standby_names names them again.
  exit 0 done; 1 failed; 2 bad input; 3 refused (the primaries disagree with the records, or the pair is locked)`

await runPlaybook(async () => {
  const args = parseArgs({ string: ['inventory', 'pair'] })
  const inv = inventoryFrom(args)
  const pool = new SshPool(inv)
  try {
    for (const pair of findPair(inv, args.pair)) for (const line of await rejoinPair(inv, pool, pair)) console.log(`${pair.name}: ${line}`)
    return EXIT.ok
  } finally {
    pool.close()
  }
}, usage)
