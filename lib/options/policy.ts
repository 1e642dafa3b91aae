import { INVENTORY, JSON_OUTPUT, definePlaybook } from '../cli/define.ts'

export const POLICY = definePlaybook({
  playbook: 'policy',
  synopsis: ['get PAIR ITEM [--inventory FILE] [--json]', 'set PAIR ITEM POLICY [--inventory FILE] [--json]'],
  about: [
    "An item's version policy: equal | upgrade | downgrade | always; equal is the default.",
    "  equal      sync only when the two nodes' data versions are equal",
    '  upgrade    also from a lower-version source to a higher-version target',
    '  downgrade  also from a higher-version source to a lower-version target',
    '  always     whatever the versions',
  ],
  commands: [
    { name: 'get PAIR ITEM', help: "print the item's policy" },
    { name: 'set PAIR ITEM POLICY', help: 'edit only that value in the inventory file (comments and layout kept), validate, replace the file atomically' },
  ],
  options: [INVENTORY, { ...JSON_OUTPUT, help: 'print the answer as one JSON object' }],
  exit: 'exit 0: done; 2: bad input (unknown pair, item or policy; the file would not validate)',
})
