import { INVENTORY, JSON_OUTPUT, JUNIT, METRICS, PAIR, definePlaybook } from '../cli/define.ts'

export const VERIFY = definePlaybook({
  playbook: 'verify',
  about: [
    'The nightly checks over every node of every pair (or of --pair).',
    'While it runs, stderr shows the checks done, the bytes of the items compared so far and what runs now:',
    'a live line on a terminal, else a line every 3 s (HAPAIR_PROGRESS_EVERY_MS).',
  ],
  options: [
    INVENTORY,
    PAIR,
    { name: 'check', type: 'string', value: 'NAME', noun: 'a check name', multiple: true, help: 'only these checks (repeat, or comma-separate)' },
    { name: 'deep', type: 'boolean', help: 'sync-drift compares content checksums (hashed on the nodes) instead of size and mtime' },
    JSON_OUTPUT,
    JUNIT,
    METRICS,
  ],
  exit: 'exit 0: every check passed on every node; 1: some check failed; 2: bad input (nothing touched)',
})
