// sync has two modes, each with its own options: one run (SYNC) and --follow (SYNC_FOLLOW).
import { DRY_RUN, INVENTORY, JSON_OUTPUT, PAIR, definePlaybook } from '../cli/define.ts'

const ITEM = {
  name: 'item',
  type: 'string',
  value: 'NAME',
  noun: 'a sync item name',
  multiple: true,
  help: 'only these items (repeat, or comma-separate)',
} as const
const FORCE = {
  name: 'force',
  type: 'boolean',
  help: "mirror deletions over the item's maxDelete limit go ahead (without it: refused, exit 3, paths listed)",
} as const

export const SYNC = definePlaybook({
  playbook: 'sync',
  about: [
    "Copies every sync item from the pair's active node to its other nodes, highest priority first.",
    'While items transfer, stderr shows files and bytes done, rate and time left:',
    'a live line on a terminal, else a line every 3 s.',
  ],
  options: [
    INVENTORY,
    PAIR,
    ITEM,
    { name: 'to', type: 'string', value: 'NODE', noun: 'a node name', help: 'only this target' },
    { name: 'from', type: 'string', value: 'NODE', noun: 'a node name', help: 'assert the source: refused (exit 3) unless NODE is the active node' },
    { ...DRY_RUN, help: 'list what would change, change nothing' },
    { name: 'bootstrap', type: 'string', value: 'NODE', noun: 'a node name', help: 'full copy of every item onto a new or rebuilt node' },
    { name: 'timeout', type: 'string', value: 'SECONDS', noun: 'a number of seconds', help: 'a target that moves no data for this long is lost (default 60)' },
    FORCE,
    JSON_OUTPUT,
    { name: 'verbose', type: 'boolean', help: 'each phase with its time, on stderr' },
  ],
  exit: 'exit 0: all delivered; 1: failed; 2: bad input; 3: refused (direction guard, or mirror deletions over maxDelete); 4: degraded (changes held for an unreachable target)',
})

export const SYNC_FOLLOW = definePlaybook({
  playbook: 'sync',
  mode: '--follow',
  about: [
    "Watches the active node's rsync items (inotifywait on the node) and ships each change to every other node",
    'within about a second; a full catch-up pass first. Runs until SIGTERM/SIGINT (exit 0). One JSON event per line.',
  ],
  options: [
    { name: 'follow', type: 'boolean', help: 'follow the changes continuously (this mode)' },
    INVENTORY,
    PAIR,
    ITEM,
    { name: 'batch-ms', type: 'string', value: 'MS', noun: 'a number of milliseconds', help: 'changes gather this long before a batch ships (default 150)' },
    {
      name: 'full-every',
      type: 'string',
      value: 'S',
      noun: 'a number of seconds',
      help: 'a full pass of every item this often besides the batches (default 600; 0: never), which finds what a watcher missed without saying so (an inotify queue overflow)',
    },
    { name: 'timeout', type: 'string', value: 'SECONDS', noun: 'a number of seconds', help: 'a target that moves no data for this long is lost (default 10)' },
    { name: 'metrics-port', type: 'string', value: 'PORT', noun: 'a port number', help: 'serve Prometheus metrics on http://ADDR:PORT/metrics' },
    { name: 'metrics-host', type: 'string', value: 'ADDR', noun: 'an address', help: 'the address of --metrics-port (default 127.0.0.1)' },
    { name: 'force', type: 'boolean', help: "mirror deletions over the item's maxDelete limit go ahead" },
    { name: 'verbose', type: 'boolean', help: 'what each follower does, on stderr' },
  ],
  exit: 'exit 0: stopped by SIGTERM/SIGINT; 1: failed; 2: bad input',
})
