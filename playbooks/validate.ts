// Checks an inventory without touching any node: schema plus semantic rules, every problem at once.
//   npx zx playbooks/validate.ts --inventory inventory/lab.json
// Exit 0: `ok: FILE (N pairs, M nodes)`. Exit 2: one line per problem, `FILE: json/path: what is wrong (got …)`.
import { parseArgs, inventoryFrom, runPlaybook } from '../lib/cli.ts'
import { InputError } from '../lib/errors.ts'
import { validateFiles } from '../lib/inventory/validate-files.ts'

const usage = `usage: npx zx playbooks/validate.ts [--inventory|-i FILE]...

Validates inventory files (JSON, or YAML for .yaml/.yml) against schemas/inventory.schema.json
and the rules a schema cannot say (unique names and addresses, primary is a member, paths, drivers).
--inventory may be repeated; without it, $HAPAIR_INVENTORY or inventory/lab.json is checked.

exit codes: 0 all valid, 2 a file is missing, unreadable or invalid (every problem is printed)`

await runPlaybook(async () => {
  const args = parseArgs({ string: ['inventory'], alias: { i: 'inventory' } })
  if (args._.length) throw new InputError(`unexpected argument${args._.length > 1 ? 's' : ''}: ${args._.join(' ')} (give files with --inventory FILE)`)
  const files: (string | undefined)[] = [args.inventory ?? []].flat()
  if (files.some((f) => !f)) throw new InputError('--inventory needs a file name')
  // Validation needs no addresses: a provisioned pair's come from import-stack.
  const run = validateFiles(files.length ? files : [undefined], (file) => inventoryFrom({ ...args, inventory: file }, { addressesPending: true }))
  for (const line of run.out) console.log(line)
  for (const line of run.err) console.error(line)
  return run.code
}, usage)
