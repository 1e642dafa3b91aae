// Every option a playbook's parser accepts is one a user can find: in its --help and in the
// README's section on that playbook. The accepted set is asked of the parser itself (its
// "unknown option … (known: …)" answer), so a flag added to the code without its words fails
// here; and it must be what the playbook's definition (lib/options/) says.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { playbook } from '../helpers/playbook.ts'
import { knownOptions } from '../../lib/cli/parse.ts'
import { DEFINITIONS } from '../../lib/options/index.ts'

const names = readdirSync('playbooks')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
// One run per definition: a mode (sync --follow) has a parser of its own.
const modes = DEFINITIONS.map((d) => ({ name: d.playbook, args: d.mode ? [d.mode] : [], def: d }))

const docs = [
  readFileSync('README.md', 'utf8'),
  ...(existsSync('docs')
    ? readdirSync('docs', { recursive: true })
        .filter((f) => String(f).endsWith('.md'))
        .map((f) => readFileSync(path.join('docs', String(f)), 'utf8'))
    : []),
].join('\n')

/** Markdown split at every heading: [heading, body]; code blocks are not headings. */
function sections(md: string): { heading: string; body: string }[] {
  const out: { heading: string; body: string }[] = [{ heading: '', body: '' }]
  let fence = false
  for (const line of md.split('\n')) {
    if (/^```/.test(line)) fence = !fence
    if (!fence && /^#{1,6} /.test(line)) out.push({ heading: line, body: '' })
    else out[out.length - 1].body += line + '\n'
  }
  return out
}
const word = (w: string) => new RegExp(`(?<![\\w-])${w.replace(/[-]/g, '\\-')}(?![\\w-])`)

/**
 * The README's command lines for a playbook, its table of options: every line of a code block
 * that runs playbooks/NAME.ts (with MODE…), with its continuation lines (a trailing "\\", or an
 * indented "[" line under it).
 */
function synopsis(name: string, mode: string[]): string {
  const out: string[] = []
  let fence = false
  let open = false
  for (const line of docs.split('\n')) {
    if (/^\s*```/.test(line)) {
      fence = !fence
      open = false
      continue
    }
    if (!fence) continue
    if (open && (/^\s{6,}\[/.test(line) || /\\$/.test(out[out.length - 1]))) {
      out[out.length - 1] += ' ' + line
      continue
    }
    open = line.includes(`playbooks/${name}.ts`)
    if (open) out.push(line)
  }
  return out.filter((l) => mode.every((m) => word(m).test(l))).join('\n')
}
/** What the README says once for all playbooks: the section that introduces them. */
const shared = sections(docs).find((s) => /^## Playbooks/.test(s.heading))?.body ?? ''
/** The README's sections on a playbook (by heading, else those that show its command line): where an alias is explained. */
function docsOf(name: string): string {
  const all = sections(docs)
  const named = all.filter((s) => word(name).test(s.heading))
  const shown = all.filter((s) => s.body.includes(`playbooks/${name}.ts`))
  return (named.length ? named : shown).map((s) => s.heading + '\n' + s.body).join('\n')
}

async function accepted(name: string, args: string[]): Promise<string[]> {
  const r = await playbook(name, [...args, '--zz-not-an-option'])
  assert.is(r.code, 2, `${name}: ${r.stderr}`)
  const known = /unknown option: --zz-not-an-option \(known: ([^)]*)\)/.exec(r.stderr)
  assert.ok(known, `${name} ${args.join(' ')}: no list of known options in: ${r.stderr}`)
  return known![1].split(' ').filter((o) => o !== '--help')
}

/** Two processes at a time: each is a node start-up, and the machine has two cores. */
async function pooled<T, R>(xs: T[], fn: (x: T) => Promise<R>, n = 2): Promise<R[]> {
  const out: R[] = new Array(xs.length)
  let next = 0
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < xs.length) {
        const i = next++
        out[i] = await fn(xs[i])
      }
    }),
  )
  return out
}
const found = pooled(modes, async (m) => {
  const help = await playbook(m.name, [...m.args, '--help'])
  return { ...m, options: await accepted(m.name, m.args), help: help.stdout, helpCode: help.code }
})

test('every playbook has a definition', () => {
  assert.equal(
    names.filter((n) => !modes.some((m) => m.name === n)),
    [],
  )
})

test('every parser accepts exactly what its definition lists', async () => {
  for (const m of await found)
    assert.equal(
      m.options,
      knownOptions(m.def).filter((o) => o !== '--help'),
      `${m.name} ${m.args.join(' ')}`,
    )
})

test('every playbook answers --help with exit 0 and its usage', async () => {
  for (const m of await found) {
    assert.is(m.helpCode, 0, m.name)
    assert.match(m.help, `playbooks/${m.name}.ts`, m.name)
  }
})

test("every option a parser accepts is in that playbook's --help", async () => {
  const missing = (await found).flatMap((m) =>
    m.options.filter((o) => !word(o).test(m.help)).map((o) => `${m.name} ${m.args.join(' ')}: ${o}`.replace(/ +:/, ':')),
  )
  assert.equal(missing, [])
})

test('the README introduces --inventory and --help once, for every playbook', () => {
  assert.match(shared, word('--inventory'))
  assert.match(shared, word('--help'))
})

test("every long option a parser accepts is on the README's command line for that playbook", async () => {
  const missing = (await found).flatMap((m) => {
    const lines = synopsis(m.name, m.args)
    if (!lines.trim()) return [`${m.name}${m.args.length ? ' ' + m.args.join(' ') : ''}: no command line at all`]
    return m.options
      .filter((o) => o.startsWith('--') && !word(o).test(shared) && !word(o).test(lines))
      .map((o) => `${m.name}${m.args.length ? ' ' + m.args.join(' ') : ''}: ${o}`)
  })
  assert.equal(missing, [])
})

test("every short alias is explained in the README's section on that playbook", async () => {
  const missing = (await found).flatMap((m) => m.options.filter((o) => /^-[a-z]$/.test(o) && !word(o).test(docsOf(m.name))).map((o) => `${m.name}: ${o}`))
  assert.equal(missing, [])
})

test.run()
