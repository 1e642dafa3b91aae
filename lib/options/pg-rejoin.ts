import { INVENTORY, PAIR, definePlaybook } from '../cli/define.ts'

export const PG_REJOIN = definePlaybook({
  playbook: 'pg-rejoin',
  about: [
    'Every reachable node but the recorded active one (which must be the one PostgreSQL primary) is',
    'rewound into a streaming standby of it; in sync mode synchronous_standby_names names them again.',
  ],
  options: [INVENTORY, PAIR],
  exit: 'exit 0 done; 1 failed; 2 bad input; 3 refused (the primaries disagree with the records, or the pair is locked)',
})
