// failover and failback take the same options but --inflight: both definitions are made here.
import { DRY_RUN, INVENTORY, JSON_OUTPUT, definePlaybook } from '../cli/define.ts'

const about = (what: string) => [
  what,
  'Converges from any state: every floating IP on the target alone, every singleton only there, its services',
  'answering, the records naming it. Already so: nothing is done (and the dry run says so).',
]

const shared = (target: string) =>
  [
    INVENTORY,
    { name: 'pair', type: 'string', value: 'NAME', noun: 'a pair name', help: 'the pair (needed when the inventory has more than one)' },
    { name: 'to', type: 'string', value: 'NODE', noun: 'a node name', help: `the target node (default: ${target})` },
    { ...DRY_RUN, help: 'print the exact plan, change nothing' },
    { name: 'force', type: 'boolean', help: 'proceed past a stale target or an unfenceable node (the risk is printed first)' },
    { name: 'resolve', type: 'boolean', help: 'with --to: the records disagree with what runs and you decided --to is really active' },
    { name: 'yes', type: 'boolean', short: 'y', help: 'run without asking (needed without a terminal)' },
    { name: 'break-lock', type: 'boolean', help: 'take over the lock of a run that is not known to be dead (refused while its holder is alive on this host)' },
    JSON_OUTPUT,
  ] as const

const exit = 'exit 0 done (or nothing to do), 1 failed (the pair stays locked; re-run to finish), 2 bad input, 3 refused for safety'

export const FAILOVER = definePlaybook({
  playbook: 'failover',
  about: about('Moves the service and its floating IPs to another node.'),
  options: shared('the other node of a two-node pair'),
  exit,
})

export const FAILBACK = definePlaybook({
  playbook: 'failback',
  about: [
    ...about("Returns the service to the inventory's preferred primary, after syncing its data from the active node."),
    'While the sync-back transfers, stderr shows files and bytes done, rate and time left: a live line on a terminal,',
    'else a line every 3 s (HAPAIR_PROGRESS_EVERY_MS).',
  ],
  options: [
    ...shared("the inventory's preferred primary"),
    {
      name: 'inflight',
      type: 'string',
      value: 'MODE',
      noun: 'recover or discard',
      choices: ['recover', 'discard'],
      help:
        'files the target changed before a takeover that never reached the active node (status lists them): recover ships them to ' +
        "the active node first (the copies they replace are kept), discard lets the active node's versions overwrite them; " +
        'without it such a failback refuses',
    },
  ],
  exit,
})
