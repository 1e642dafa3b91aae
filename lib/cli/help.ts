// A playbook's --help, made from its definition (lib/cli/define.ts): so every option it accepts is listed.
import type { OptionDef, PlaybookDef } from './define.ts'

const WIDTH = 100

/** How an option is written in a usage line: `--pair NAME`, `--yes|-y`. */
export function spelling(o: OptionDef): string {
  return `--${o.name}${o.short ? `|-${o.short}` : ''}${o.type === 'string' ? ` ${o.choices ? o.choices.join('|') : (o.value ?? 'VALUE')}` : ''}`
}

/** The usage line's words for the options: `[--pair NAME] [--item NAME]…`. */
export function synopsisOf(options: readonly OptionDef[]): string {
  return options.map((o) => `[${spelling(o)}]${o.multiple ? '…' : ''}`).join(' ')
}

/** An option's line of help, with its values and whether it may be repeated when the text does not say. */
export function describe(o: OptionDef): string {
  const extra = [
    o.choices && !o.choices.every((c) => o.help.includes(c)) ? o.choices.join(' or ') : '',
    o.multiple && !/repeat/.test(o.help) ? 'may be repeated' : '',
  ]
  return (
    o.help +
    extra
      .filter(Boolean)
      .map((x) => ` (${x})`)
      .join('')
  )
}

/** Words into lines of at most `width` columns, the first after `lead`, the rest under it. */
function wrap(text: string, lead: string, width = WIDTH): string[] {
  const lines: string[] = []
  let line = lead
  let empty = true
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + w.length > width) {
      lines.push(line)
      line = ' '.repeat(lead.length)
      empty = true
    }
    line += (empty ? '' : ' ') + w
    empty = false
  }
  lines.push(line.trimEnd())
  return lines
}

const column = (rows: [string, string][]) => {
  const w = Math.min(Math.max(...rows.map(([k]) => k.length)), 28)
  return rows.flatMap(([k, v]) => (k.length > w ? [`  ${k}`, ...wrap(v, ' '.repeat(w + 4))] : wrap(v, `  ${k.padEnd(w)}  `)))
}

/** The --help text; `notes` are lines the playbook knows only at run time (the check names). */
export function helpText(def: PlaybookDef, notes: readonly string[] = []): string {
  const run = `npx zx playbooks/${def.playbook}.ts`
  const synopsis = def.synopsis ?? [[def.mode, synopsisOf(def.options.filter((o) => `--${o.name}` !== def.mode))].filter(Boolean).join(' ')]
  const options: [string, string][] = def.options.map((o) => [
    `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}${o.multiple ? '…' : ''}`,
    describe(o),
  ])
  return [
    ...synopsis.map((s, i) => `${i ? '      ' : 'usage:'} ${run} ${s}`),
    ...(def.about ?? []).map((l) => `  ${l}`),
    ...notes.map((l) => `  ${l}`),
    ...(def.commands?.length ? ['commands:', ...column(def.commands.map((c) => [c.name, c.help]))] : []),
    'options:',
    ...column([...options, ['-h, --help', 'print this text']]),
    def.exit,
  ].join('\n')
}
