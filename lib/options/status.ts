import { INVENTORY, JSON_OUTPUT, PAIR, definePlaybook } from '../cli/define.ts'

export const STATUS = definePlaybook({
  playbook: 'status',
  about: ['What each pair runs now: active node, floating IPs, services, freshness, locks; observed, nothing remembered.'],
  options: [INVENTORY, PAIR, JSON_OUTPUT],
  exit: 'exit 0: every pair healthy; 1: some pair degraded; 2: bad input',
})
