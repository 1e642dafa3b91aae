// npx zx playbooks/import-stack.ts --stack-output FILE|- --inventory F [--out F2] [--json]
// Turns `pulumi stack output --json` (stacks/hcloud or stacks/digitalocean) into a resolved
// inventory: addresses, provider ids, floating IPs and fencing, validated like any inventory;
// and the controller's known_hosts, pinning the host keys the stack generated.
import { readFileSync, writeFileSync, renameSync } from 'node:fs'
import path from 'node:path'
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { IMPORT_STACK } from '../lib/options/import-stack.ts'
import { InputError } from '../lib/errors.ts'
import { writeFileAtomic } from '../lib/known-hosts-edit.ts'
import { importStack } from '../lib/provision/import.ts'
import { parseStackOutputs } from '../lib/provision/outputs.ts'

const readStdin = (): string => readFileSync(0, 'utf8')

await runPlaybook(async () => {
  const args = parseArgs(IMPORT_STACK)
  const source = args['stack-output']
  if (!source) throw new InputError('usage: --stack-output is required')
  if (!args.inventory) throw new InputError('usage: --inventory is required (the inventory the stack was built from)')
  const inv = inventoryFrom(args, { addressesPending: true })
  const label = source === '-' ? '(stdin)' : source
  let text: string
  try {
    text = source === '-' ? readStdin() : readFileSync(source, 'utf8')
  } catch (e) {
    throw new InputError(`${label}: cannot read: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
  }
  const outFile = args.out ? path.resolve(args.out as string) : inv.file
  const r = importStack(inv, parseStackOutputs(text, label), label, outFile)
  const body = r.text
  if (args.out) {
    // The pins first: alone they change nothing a playbook does, while an inventory naming
    // new addresses without them would make every connection refuse the servers.
    for (const k of r.knownHosts) if (k.changed) writeFileAtomic(k.file, k.text, k.before)
    // Written whole or not at all: a half-written inventory would stop every playbook.
    const tmp = `${outFile}.tmp-${process.pid}`
    writeFileSync(tmp, body)
    renameSync(tmp, outFile)
  }
  for (const w of r.warnings) console.error(`warning: ${w}`)
  const knownHosts = r.knownHosts.map((k) => ({ file: k.file, changed: k.changed, written: !!args.out && k.changed, pins: k.pins }))
  if (args.json)
    console.log(
      JSON.stringify({ file: args.out ? outFile : null, changes: r.changes, warnings: r.warnings, knownHosts, nodeKnownHosts: r.nodeKnownHosts }, null, 2),
    )
  else if (args.out) {
    console.error(r.changes.length ? r.changes.map((c) => `  ${c}`).join('\n') : '  no changes')
    console.error(`wrote ${outFile}; next: npx zx playbooks/validate.ts --inventory ${path.relative(process.cwd(), outFile) || outFile}`)
  } else process.stdout.write(body)
}, helpText(IMPORT_STACK))
