// The options table of docs/playbooks.md, made from the definitions (npm run docs:options writes
// it; test/cli/options-doc.test.ts fails when the committed one differs).
import type { OptionDef, PlaybookDef } from './define.ts'
import { describe } from './help.ts'

export const BEGIN = '<!-- options table: generated from lib/options/*.ts by `npm run docs:options`; edit those, not this -->'
export const END = '<!-- end of the options table -->'

const cell = (s: string) => s.replace(/\|/g, '\\|')
const code = (s: string) => `\`${s}\``

function spelled(o: OptionDef): string {
  const long = `--${o.name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
  return [o.short ? code(`-${o.short}`) : '', code(long)].filter(Boolean).join(', ')
}

/** One row per option of every playbook (and mode); --help, which every one takes, is said once above it. */
export function optionsTable(defs: readonly PlaybookDef[]): string {
  const rows = defs.flatMap((d) =>
    d.options
      .filter((o) => `--${o.name}` !== d.mode)
      .map((o) => `| ${code([d.playbook, d.mode].filter(Boolean).join(' '))} | ${cell(spelled(o))} | ${cell(describe(o))} |`),
  )
  return ['| playbook | option | what it does |', '|---|---|---|', ...rows].join('\n')
}

/** The document with the text between the markers replaced by the table; an error when a marker is missing. */
export function withOptionsTable(doc: string, defs: readonly PlaybookDef[]): string {
  const a = doc.indexOf(BEGIN)
  const b = doc.indexOf(END)
  if (a < 0 || b < a) throw new Error(`the options table's markers are missing: ${BEGIN} … ${END}`)
  return `${doc.slice(0, a + BEGIN.length)}\n${optionsTable(defs)}\n${doc.slice(b)}`
}
