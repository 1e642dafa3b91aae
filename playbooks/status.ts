// npx zx playbooks/status.ts [--inventory F] [--pair P] [--json]
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { findPair } from '../lib/inventory/load.ts'
import { SshPool } from '../lib/ssh.ts'
import { formatStatus, pairStatus } from '../lib/status.ts'

const usage = 'usage: npx zx playbooks/status.ts [--inventory FILE] [--pair NAME] [--json]\n  exit 0: every pair healthy; 1: some pair degraded; 2: bad input'

await runPlaybook(async () => {
  const args = parseArgs({ string: ['inventory', 'pair'], boolean: ['json'] })
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  const pool = new SshPool(inv)
  try {
    const started = Date.now()
    const result = await Promise.all(pairs.map((p) => pairStatus(inv, p, pool)))
    if (args.json) console.log(JSON.stringify({ pairs: result, ms: Date.now() - started }, null, 2))
    else console.log(formatStatus(result) + `\n(${Date.now() - started} ms)`)
    return result.some((p) => p.degraded) ? 1 : 0
  } finally {
    pool.close()
  }
}, usage)
