// npx zx playbooks/failback.ts [--inventory F] [--pair P] [--dry-run] [--force] [--yes] [--json]
import { runPlaybook } from '../lib/cli.ts'
import { failoverMain, usage } from '../lib/failover/cli.ts'
import { failbackSync } from '../lib/failover/failback.ts'

await runPlaybook(() => failoverMain('failback', { beforeMutate: failbackSync }), usage('failback'))
