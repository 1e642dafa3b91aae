import { INVENTORY, JSON_OUTPUT, definePlaybook } from '../cli/define.ts'

export const GUARD = definePlaybook({
  playbook: 'guard',
  synopsis: ['install|status|uninstall [--inventory FILE] [--pair NAME] [--node NAME] [--json]'],
  about: ['Only pairs with "fencing": { "driver": "lease" }; without --pair, all of them.'],
  commands: [
    {
      name: 'install',
      help: "write the lease guard and its config into the pair's state dir on each node and (re)start it: as hapair-guard@PAIR.service where the node runs systemd, else with setsid (the lab)",
    },
    { name: 'status', help: 'per node: guard running, lease armed and its time left, the last step-down' },
    { name: 'uninstall', help: "disarm the node's lease (the survivors' ledgers first), stop the guard, remove its files" },
  ],
  options: [
    INVENTORY,
    { name: 'pair', type: 'string', value: 'NAME', noun: 'a pair name', help: 'only this pair (default: every pair fenced by lease)' },
    { name: 'node', type: 'string', value: 'NAME', noun: 'a node name', help: 'only this node' },
    JSON_OUTPUT,
  ],
  exit: 'exit 0 done / every guard running; 1 failed / some guard not running; 2 bad input (nothing touched); 3 refused (the pair is locked)',
})
