// npx zx playbooks/failback.ts [--inventory F] [--pair P] [--dry-run] [--force] [--yes] [--json]
import { runPlaybook } from '../lib/cli.ts'
import { EXIT } from '../lib/errors.ts'
import { failbackSync } from '../lib/failover/failback.ts'
import { failoverCommand, usage } from '../lib/failover/options.ts'
import { formatResult, jsonResult } from '../lib/failover/report.ts'
import { runFailover } from '../lib/failover/run.ts'
import { stderrProgress } from '../lib/progress.ts'
import { SshPool } from '../lib/ssh.ts'
import { SyncProgress } from '../lib/sync/progress.ts'

// A failover to the preferred primary that first brings the target the active node's data.
await runPlaybook(async () => {
  const { inv, pair, opts, json } = failoverCommand('failback')
  const pool = new SshPool(inv)
  try {
    // The sync-back may move a lot of data: its progress on stderr, as sync shows it; stdout (and --json) is the result alone.
    const progress = new SyncProgress(stderrProgress(pair.name))
    const r = await runFailover(inv, pool, pair, {
      ...opts,
      beforeMutate: (plan) => failbackSync(inv, pool, plan, !!opts.force, progress).finally(() => progress.stop()),
    })
    console.log(json ? JSON.stringify(jsonResult(r), null, 2) : formatResult(r))
    return r.ok ? EXIT.ok : EXIT.failed
  } finally {
    pool.close()
  }
}, usage('failback'))
