// Checks an inventory without touching any node: schema plus semantic rules, every problem at once.
//   npx zx playbooks/validate.ts --inventory inventory/lab.json
// Exit 0: `ok: FILE (N pairs, M nodes)`. Exit 2: one line per problem, `FILE: json/path: what is wrong (got …)`.
import { parseArgs, inventoryFrom, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { VALIDATE } from '../lib/options/validate.ts'
import { InputError } from '../lib/errors.ts'
import { validateFiles } from '../lib/inventory/validate-files.ts'

await runPlaybook(async () => {
  const args = parseArgs(VALIDATE)
  if (args._.length) throw new InputError(`unexpected argument${args._.length > 1 ? 's' : ''}: ${args._.join(' ')} (give files with --inventory FILE)`)
  const files = args.inventory
  // Validation needs no addresses: a provisioned pair's come from import-stack.
  const run = validateFiles(files.length ? files : [undefined], (file) => inventoryFrom({ ...args, inventory: file }, { addressesPending: true }))
  for (const line of run.out) console.log(line)
  for (const line of run.err) console.error(line)
  return run.code
}, helpText(VALIDATE))
