import { INVENTORY, JSON_OUTPUT, definePlaybook } from '../cli/define.ts'

export const WATCH = definePlaybook({
  playbook: 'watch',
  synopsis: ['[run] [--inventory FILE] [--pair P]... [--json]', 'pause --pair P [--for 30m] [--reason TEXT]', 'resume --pair P', 'status [--pair P] [--json]'],
  commands: [
    {
      name: 'run',
      help: 'watch the pairs (all by default) until SIGINT/SIGTERM; takes over a dead active node when it and a surviving node agree, with fencing; one event per line (--json: JSON lines)',
    },
    { name: 'pause', help: 'record a maintenance pause on every reachable node: every watcher honours it' },
    { name: 'resume', help: 'end the pause' },
    { name: 'status', help: 'whether each pair is paused, by whom and until when' },
  ],
  options: [
    INVENTORY,
    {
      name: 'pair',
      type: 'string',
      value: 'P',
      noun: 'a pair name',
      multiple: true,
      help: 'run, status: only these pairs (repeat; default: every pair); pause, resume: the pair',
    },
    {
      name: 'for',
      type: 'string',
      value: 'DURATION',
      noun: 'a duration (30m, 2h, 90s)',
      help: 'pause: end the pause after this long (at most 30d; default: until resumed)',
    },
    { name: 'reason', type: 'string', value: 'TEXT', noun: 'a text', help: 'pause: why, recorded with the pause' },
    { ...JSON_OUTPUT, help: 'print JSON (run: one JSON object per event)' },
  ],
  exit: 'exit 0 done; 1 failed; 2 bad input (nothing touched); 3 refused',
})
