#!/usr/bin/env node
// `hapair PLAYBOOK [ARGS…]`: the installed package's one command. It runs the compiled playbook
// (what `npm run build` makes of playbooks/PLAYBOOK.ts: a part of dist/hapair.cjs, with a stub
// dist/playbooks/PLAYBOOK.js for plain `node`) in this process, with the caller's cwd and
// arguments: `--inventory` and every relative path mean what they mean in the caller's directory.
// Plain JavaScript, so nothing is compiled here.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const PLAYBOOKS = fileURLToPath(new URL('../dist/playbooks/', import.meta.url))
const HELP = fileURLToPath(new URL('../dist/help/', import.meta.url))

// One line each for `hapair --help`; the playbook's own --help has the rest.
// test/package.test.ts fails when a playbook has no line here.
const SUMMARY = {
  'backup-verify': "prove the pair's backups restore (nightly, with --junit/--metrics)",
  failback: 'return the service to the preferred primary, after syncing its data back',
  failover: 'move the service and its floating IPs to another node',
  guard: 'install, inspect or remove the lease guard that fences a node by itself',
  hostkeys: "pin a new or rebuilt node's SSH host key; show the pins",
  'import-stack': 'turn `pulumi stack output --json` into a resolved inventory',
  lab: 'the local lab pair in network namespaces: up, down, status, exec, fault',
  'pg-rejoin': 'make the returned PostgreSQL nodes standbys of the live primary',
  policy: "get or set a sync item's version policy in the inventory file",
  status: 'what each pair runs now: active node, floating IPs, services, freshness',
  sync: 'copy the sync items from the active node to the others (--follow: continuously)',
  validate: 'check inventory files against the schema and rules, touching no node',
  verify: 'the nightly checks over every node (with --junit/--metrics)',
  watch: 'automatic failover: watch the pairs, take over a dead active node',
}

function playbooks() {
  try {
    return readdirSync(PLAYBOOKS)
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.slice(0, -3))
      .sort()
  } catch {
    return []
  }
}

function overview() {
  const names = playbooks()
  const width = Math.max(...names.map((n) => n.length))
  return [
    'usage: hapair PLAYBOOK [--inventory FILE] [OPTIONS…]    (hapair PLAYBOOK --help: its options)',
    '',
    ...names.map((n) => `  ${n.padEnd(width)}  ${SUMMARY[n] ?? ''}`),
    '',
    'Every playbook takes --inventory FILE (default $HAPAIR_INVENTORY, else inventory/lab.json in the current directory).',
    'exit 0 done; 1 failed; 2 bad input (nothing touched); 3 refused for safety; 4 degraded (sync)',
  ].join('\n')
}

const [name, ...rest] = process.argv.slice(2)
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  if (name === 'help' && rest.length) await run(rest[0], ['--help'])
  else {
    // No playbook named is a usage error; asking for help is not.
    ;(name ? console.log : console.error)(overview())
    process.exitCode = name ? 0 : 2
  }
} else if (name === '--version' || name === '-V') {
  console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version)
} else {
  await run(name, rest)
}

async function run(playbook, args) {
  const file = `${PLAYBOOKS}${playbook}.js`
  if (!/^[a-z][a-z0-9-]*$/.test(playbook) || !existsSync(file)) {
    const names = playbooks()
    console.error(
      names.length
        ? `hapair: no playbook "${playbook}" (playbooks: ${names.join(', ')})`
        : `hapair: no compiled playbooks in ${PLAYBOOKS}: in a checkout run \`npm run build\` first, or \`npx zx playbooks/${playbook}.ts\``,
    )
    process.exitCode = 2
    return
  }
  // `NAME --help` alone: what the playbook printed for it at build time (scripts/build.mjs),
  // without loading its modules. Any other arguments, --help among them, go to the playbook.
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    try {
      process.stdout.write(readFileSync(`${HELP}${playbook}.txt`, 'utf8'))
      return
    } catch {
      /* not built with help: the playbook prints it */
    }
  }
  // The playbook reads its arguments as if started as `node dist/playbooks/NAME.js ARGS…`;
  // it runs from the bundle here, without that module's own load.
  process.argv = [process.argv[0], file, ...args]
  const { runBundled } = await import('./bundle.mjs')
  await runBundled(playbook)
}
