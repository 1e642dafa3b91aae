// npx zx playbooks/import-stack.ts --stack-output FILE|- --inventory F [--out F2] [--json]
// Turns `pulumi stack output --json` (stacks/hcloud or stacks/digitalocean) into a resolved
// inventory: addresses, provider ids, floating IPs and fencing, validated like any inventory;
// and the controller's known_hosts, pinning the host keys the stack generated.
import { readFileSync, writeFileSync, renameSync } from 'node:fs'
import path from 'node:path'
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { InputError } from '../lib/errors.ts'
import { writeFileAtomic } from '../lib/known-hosts-edit.ts'
import { importStack } from '../lib/provision/import.ts'
import { parseStackOutputs } from '../lib/provision/outputs.ts'

const usage = `usage: npx zx playbooks/import-stack.ts --stack-output FILE|- --inventory FILE [--out FILE] [--json]
  --stack-output  what \`pulumi stack output --json\` printed ("-": read it from stdin)
  --inventory     the inventory the stack was built from (its ha-*:inventory config)
  --out           where to write the resolved inventory (may be the same file), and the controller's
                  known_hosts (ssh.knownHostsFile) with every node's generated host key; default: print
                  the inventory, write nothing
  --json          print {file, changes, warnings, knownHosts, nodeKnownHosts}; without --out a dry run
  exit 0: written; 2: bad input (nothing written); 3: a generated host key is @revoked in known_hosts (nothing written)`

const readStdin = (): string => readFileSync(0, 'utf8')

await runPlaybook(async () => {
  const args = parseArgs({ string: ['stack-output', 'inventory', 'out'], boolean: ['json'] })
  const source = args['stack-output'] as string | undefined
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
}, usage)
