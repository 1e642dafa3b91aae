// npx zx playbooks/failover.ts [--inventory F] [--pair P] [--to NODE] [--dry-run] [--force] [--yes] [--json]
import { runPlaybook } from '../lib/cli.ts'
import { EXIT } from '../lib/errors.ts'
import { failoverCommand, usage } from '../lib/failover/options.ts'
import { formatResult, jsonResult } from '../lib/failover/report.ts'
import { runFailover } from '../lib/failover/run.ts'
import { SshPool } from '../lib/ssh.ts'

await runPlaybook(async () => {
  const { inv, pair, opts, json } = failoverCommand('failover')
  const pool = new SshPool(inv)
  try {
    const r = await runFailover(inv, pool, pair, opts)
    console.log(json ? JSON.stringify(jsonResult(r), null, 2) : formatResult(r))
    return r.ok ? EXIT.ok : EXIT.failed
  } finally {
    pool.close()
  }
}, usage('failover'))
