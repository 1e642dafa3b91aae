import { INVENTORY, definePlaybook } from '../cli/define.ts'

export const VALIDATE = definePlaybook({
  playbook: 'validate',
  about: [
    'Validates inventory files (JSON, or YAML for .yaml/.yml) against schemas/inventory.schema.json',
    'and the rules a schema cannot say (unique names and addresses, primary is a member, paths, drivers).',
  ],
  options: [
    {
      ...INVENTORY,
      short: 'i',
      multiple: true,
      help: 'an inventory file to check (repeat for several); without it, $HAPAIR_INVENTORY or inventory/lab.json',
    },
  ],
  exit: 'exit codes: 0 all valid, 2 a file is missing, unreadable or invalid (every problem is printed)',
})
