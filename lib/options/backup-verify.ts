import { INVENTORY, JSON_OUTPUT, JUNIT, METRICS, PAIR, definePlaybook } from '../cli/define.ts'

export const BACKUP_VERIFY = definePlaybook({
  playbook: 'backup-verify',
  about: [
    'For each declared backup on each node: present, age, size, integrity (reads end to end, checksums).',
    'While it runs, stderr shows the backups checked and what runs now (a test restore: the bytes written so far',
    'of the size the archive lists): a live line on a terminal, else a line every 3 s (HAPAIR_PROGRESS_EVERY_MS).',
  ],
  options: [
    INVENTORY,
    PAIR,
    { name: 'check', type: 'string', value: 'BACKUP', noun: 'a backup name', multiple: true, help: 'only these backups (repeat, or comma-separate)' },
    {
      name: 'restore',
      type: 'boolean',
      help:
        "also a test restore into a scratch directory on the node, compared with the backup's manifest; " +
        'a PostgreSQL base backup is checked with pg_verifybackup, started (no TCP listener) and queried',
    },
    JSON_OUTPUT,
    JUNIT,
    METRICS,
  ],
  exit: 'exit 0: every step passed on every node; 1: some step failed; 2: bad input (nothing touched)',
})
