// docs/playbooks.md's options table is generated from the playbooks' definitions
// (npm run docs:options) and must not drift from them; each definition's --help names all its options;
// every command line the docs show names only options its playbook has.
import { readdirSync, readFileSync } from 'node:fs'
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

/** `playbooks/NAME.ts ARGS` in a doc, continuation lines joined; ARGS end at a pipe, `)`, `;`, `&` or backtick. */
function docCommands(file: string): { playbook: string; args: string }[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n\s*/g, ' ')
  return [...text.matchAll(/playbooks\/([a-z-]+)\.ts([^`|)\n;&]*)/g)].map((m) => ({ playbook: m[1], args: m[2] }))
}

test('every command line in the docs uses only options of its playbook (docs/provisioning.md: every playbook exists)', () => {
  const known = new Map<string, Set<string>>()
  for (const d of DEFINITIONS) {
    const s = known.get(d.playbook) ?? new Set(['help'])
    for (const o of d.options) s.add(o.name.split(' ')[0])
    if (d.mode) s.add(d.mode.replace(/^--/, ''))
    known.set(d.playbook, s)
  }
  const bad: string[] = []
  const files = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ]
  for (const f of files)
    for (const c of docCommands(f)) {
      // Elsewhere a name without a definition is a placeholder (design.md's playbooks/x.ts).
      const opts = known.get(c.playbook)
      if (!opts) continue
      for (const [, o] of c.args.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) if (!opts.has(o)) bad.push(`${f}: ${c.playbook} has no --${o}:${c.args}`)
    }
  assert.equal(bad, [], bad.join('\n'))
  const prov = docCommands('docs/provisioning.md')
  assert.ok(prov.length >= 8, `${prov.length} commands`)
  assert.equal(
    prov.filter((c) => !known.has(c.playbook)).map((c) => c.playbook),
    [],
  )
  assert.ok(
    prov.some((c) => c.playbook === 'import-stack' && /--stack-output - --inventory \S+ --out /.test(c.args)),
    'the continued import-stack line',
  )
})

test('failback --help, run as a user does, lists --to and --inflight', async () => {
  const r = await playbook('failback', ['--help'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /^ {2}--to NODE +the target node/m)
  assert.match(r.stdout, /^ {2}--inflight MODE +/m)
})

test.run()
