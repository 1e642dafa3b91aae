// docs/playbooks.md's options table is generated from the playbooks' definitions
// (npm run docs:options) and must not drift from them; each definition's --help names all its options.
import { readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { helpText } from '../../lib/cli/help.ts'
import { BEGIN, END, optionsTable, withOptionsTable } from '../../lib/cli/table.ts'
import { DEFINITIONS } from '../../lib/options/index.ts'
import { playbook } from '../helpers/playbook.ts'

const doc = readFileSync('docs/playbooks.md', 'utf8')
const table = doc.slice(doc.indexOf(BEGIN), doc.indexOf(END))
const word = (w: string) => new RegExp(`(?<![\\w-])${w.replace(/[-]/g, '\\-')}(?![\\w-])`)

test('the table in docs/playbooks.md is what the definitions generate', () => {
  assert.ok(doc.includes(BEGIN) && doc.includes(END), 'the markers are missing')
  if (withOptionsTable(doc, DEFINITIONS) !== doc) assert.unreachable('docs/playbooks.md: the options table is out of date: run npm run docs:options')
})

test('the table has a row for every option of every playbook, failback --to among them', () => {
  for (const d of DEFINITIONS)
    for (const o of d.options.filter((x) => `--${x.name}` !== d.mode)) {
      const row = new RegExp(`^\\| \`${[d.playbook, d.mode].filter(Boolean).join(' ')}\` \\| [^|]*\`--${o.name}[ \`]`, 'm')
      assert.match(table, row, `${d.playbook}${d.mode ? ' ' + d.mode : ''} --${o.name}`)
    }
  assert.match(table, /^\| `failback` \| `--to NODE` \| /m)
})

test('the generator: one row per option, "|" in a text escaped, the markers required', () => {
  const t = optionsTable(DEFINITIONS)
  assert.is(t.split('\n').length, 2 + DEFINITIONS.reduce((n, d) => n + d.options.filter((o) => `--${o.name}` !== d.mode).length, 0))
  assert.match(t, /`--inflight MODE`/)
  assert.throws(() => withOptionsTable('# no markers\n', DEFINITIONS), /markers are missing/)
})

test("every definition's --help names each of its options (and -y, -i where there is one)", () => {
  for (const d of DEFINITIONS) {
    const h = helpText(d)
    for (const o of d.options) {
      assert.match(h, word(`--${o.name}`), `${d.playbook}: --${o.name}`)
      if (o.short) assert.match(h, word(`-${o.short}`), `${d.playbook}: -${o.short}`)
    }
    assert.match(h, new RegExp(`^usage: npx zx playbooks/${d.playbook}\\.ts`))
    assert.match(h, /^exit/m)
  }
})

test('failback --help, run as a user does, lists --to and --inflight', async () => {
  const r = await playbook('failback', ['--help'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /^ {2}--to NODE +the target node/m)
  assert.match(r.stdout, /^ {2}--inflight MODE +/m)
})

test.run()
