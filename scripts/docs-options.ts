// `npm run docs:options`: writes the options table of docs/playbooks.md from the playbooks'
// definitions (lib/options/*.ts). With --check it writes nothing and exits 1 when the doc is out of date.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { withOptionsTable } from '../lib/cli/table.ts'
import { DEFINITIONS } from '../lib/options/index.ts'

const file = fileURLToPath(new URL('../docs/playbooks.md', import.meta.url))
const before = readFileSync(file, 'utf8')
const after = withOptionsTable(before, DEFINITIONS)
if (process.argv.includes('--check')) {
  if (after !== before) {
    console.error('docs/playbooks.md: the options table is out of date: run npm run docs:options')
    process.exit(1)
  }
} else if (after !== before) {
  writeFileSync(file, after)
  console.error('docs/playbooks.md: options table written')
} else console.error('docs/playbooks.md: options table already up to date')
