// Every playbook's command line, for the docs table (npm run docs:options) and the tests; a
// playbook imports only its own definition.
import type { PlaybookDef } from '../cli/define.ts'
import { BACKUP_VERIFY } from './backup-verify.ts'
import { FAILBACK, FAILOVER } from './failover.ts'
import { GUARD } from './guard.ts'
import { HOSTKEYS } from './hostkeys.ts'
import { IMPORT_STACK } from './import-stack.ts'
import { LAB } from './lab.ts'
import { PG_REJOIN } from './pg-rejoin.ts'
import { POLICY } from './policy.ts'
import { STATUS } from './status.ts'
import { SYNC, SYNC_FOLLOW } from './sync.ts'
import { VALIDATE } from './validate.ts'
import { VERIFY } from './verify.ts'
import { WATCH } from './watch.ts'

export const DEFINITIONS: readonly PlaybookDef[] = [
  BACKUP_VERIFY,
  FAILBACK,
  FAILOVER,
  GUARD,
  HOSTKEYS,
  IMPORT_STACK,
  LAB,
  PG_REJOIN,
  POLICY,
  STATUS,
  SYNC,
  SYNC_FOLLOW,
  VALIDATE,
  VERIFY,
  WATCH,
]
