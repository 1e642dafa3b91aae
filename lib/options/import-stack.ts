import { definePlaybook } from '../cli/define.ts'

export const IMPORT_STACK = definePlaybook({
  playbook: 'import-stack',
  synopsis: ['--stack-output FILE|- --inventory FILE [--out FILE] [--json]'],
  about: ['Turns `pulumi stack output --json` into a resolved inventory, and pins the host keys the stack generated.'],
  options: [
    {
      name: 'stack-output',
      type: 'string',
      value: 'FILE',
      noun: 'a file name (or - for stdin)',
      help: 'what `pulumi stack output --json` printed ("-": read it from stdin); required',
    },
    {
      name: 'inventory',
      type: 'string',
      value: 'FILE',
      noun: 'a file name',
      help: 'the inventory the stack was built from (its ha-*:inventory config); required',
    },
    {
      name: 'out',
      type: 'string',
      value: 'FILE',
      noun: 'a file name',
      help:
        "where to write the resolved inventory (may be the same file), and the controller's known_hosts (ssh.knownHostsFile) " +
        "with every node's generated host key; default: print the inventory, write nothing",
    },
    { name: 'json', type: 'boolean', help: 'print {file, changes, warnings, knownHosts, nodeKnownHosts}; without --out a dry run' },
  ],
  exit: 'exit 0: written; 2: bad input (nothing written); 3: a generated host key is @revoked in known_hosts (nothing written)',
})
