import { INVENTORY, JSON_OUTPUT, definePlaybook } from '../cli/define.ts'

export const LAB = definePlaybook({
  playbook: 'lab',
  synopsis: ['COMMAND [--inventory FILE] [--json]'],
  about: ["The local lab: every node of every pair of the inventory's lab, in network namespaces on this machine (root)."],
  commands: [
    { name: 'up', help: "build every node of every pair of the inventory's lab on this machine" },
    { name: 'down', help: 'remove everything up made (fine when nothing is there)' },
    { name: 'status', help: 'namespaces, links, sshd/services and floating IPs, per node' },
    { name: 'exec NODE -- CMD ARGS…', help: 'run a command on a node (its network and mount namespaces); exits with its code' },
    { name: 'fault isolate|heal NODE', help: "unplug / replug the node's cable (processes keep running)" },
    { name: 'fault kill|start NODE', help: 'power the node off (kill -9 everything, addresses gone) / on (sshd and non-singleton services)' },
    { name: 'fault pause|resume NODE', help: 'hang the node (SIGSTOP every process; ping still answers) / let it run again' },
    { name: 'fault partition A B', help: 'drop every frame between hosts A and B (node names or "controller"); --one-way: only A -> B' },
    { name: 'fault loss NODE PCT', help: "drop PCT% (0..100) of the frames into and out of the node's (or the controller's) link at random; 0 removes it" },
    { name: 'fault heal', help: 'clear every fault: partitions, loss, paused nodes, unplugged cables (not power)' },
  ],
  options: [INVENTORY, JSON_OUTPUT, { name: 'one-way', type: 'boolean', help: 'fault partition: drop only the frames from A to B' }],
  exit: 'exit 0: done; 1: failed; 2: bad usage, not root, or a missing tool; 3: refused (subnet overlaps)',
})
