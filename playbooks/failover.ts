// npx zx playbooks/failover.ts [--inventory F] [--pair P] [--to NODE] [--dry-run] [--force] [--yes] [--json]
import { runPlaybook } from '../lib/cli.ts'
import { failoverMain, usage } from '../lib/failover/cli.ts'

await runPlaybook(() => failoverMain('failover'), usage('failover'))
