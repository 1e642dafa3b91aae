// Checks an inventory without touching any node: schema plus semantic rules, every problem at once.
//   npx zx playbooks/validate.ts --inventory inventory/lab.json
// Exit 0: `ok: FILE (N pairs, M nodes)`. Exit 2: one line per problem, `FILE: json/path: what is wrong (got …)`.
import path from 'node:path'
import { parseArgs, inventoryFrom, runPlaybook } from '../lib/cli.ts'
import { EXIT, InputError } from '../lib/errors.ts'

const usage = `usage: npx zx playbooks/validate.ts [--inventory FILE]...

Validates inventory files (JSON, or YAML for .yaml/.yml) against schemas/inventory.schema.json
and the rules a schema cannot say (unique names and addresses, primary is a member, paths, drivers).
--inventory may be repeated; without it, $HAPAIR_INVENTORY or inventory/lab.json is checked.

exit codes: 0 all valid, 2 a file is missing, unreadable or invalid (every problem is printed)`

await runPlaybook(async () => {
  const args = parseArgs({ string: ['inventory'], alias: { i: 'inventory' } })
  if (args._.length) throw new InputError(`unexpected argument${args._.length > 1 ? 's' : ''}: ${args._.join(' ')} (give files with --inventory FILE)`)
  const files: (string | undefined)[] = [args.inventory ?? []].flat()
  if (files.some((f) => !f)) throw new InputError('--inventory needs a file name')
  let code: number = EXIT.ok
  for (const file of files.length ? files : [undefined]) {
    try {
      const inv = inventoryFrom({ ...args, inventory: file })
      const nodes = inv.data.pairs.reduce((n, p) => n + p.nodes.length, 0)
      const pairs = inv.data.pairs.length
      console.log(`ok: ${file ?? path.relative(process.cwd(), inv.file)} (${pairs} pair${pairs === 1 ? '' : 's'}, ${nodes} node${nodes === 1 ? '' : 's'})`)
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      for (const line of e.problems) console.error(line)
      code = EXIT.badInput
    }
  }
  return code
}, usage)
