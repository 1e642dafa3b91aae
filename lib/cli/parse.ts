// A playbook's command line read by its definition (lib/cli/define.ts) with node's own parser in
// strict mode: an unknown option, a value option without its value, a value given to a switch, a
// second value for an option that takes one, or a value not among its choices is a usage error
// (exit 2) naming the option, never ignored.
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util'
import { InputError } from '../errors.ts'
import type { ArgsOf, OptionDef, PlaybookDef } from './define.ts'

const HELP: OptionDef = { name: 'help', type: 'boolean', short: 'h', help: 'print this text' }

const flag = (o: OptionDef) => `--${o.name}`

/** Every option's spellings, as the "known:" list shows them (--help last; -h is not listed). */
export function knownOptions(def: PlaybookDef): string[] {
  return [...def.options.flatMap((o) => [flag(o), ...(o.short ? [`-${o.short}`] : [])]), '--help']
}

type Token = NonNullable<ReturnType<typeof nodeParseArgs>['tokens']>[number]

function config(def: PlaybookDef, argv: string[], strict: boolean): ParseArgsConfig {
  const options: NonNullable<ParseArgsConfig['options']> = {}
  for (const o of [...def.options, HELP]) options[o.name] = { type: o.type, multiple: o.type === 'string', ...(o.short ? { short: o.short } : {}) }
  return { args: argv, options, strict, allowPositionals: true, tokens: true }
}

/**
 * A value option given no value: `--pair --yes` must not read as a pair named "--yes", and
 * `--pair=` not as every pair. A value may start with "-" only when attached (`--to=-x`), or be "-" (stdin).
 */
function refuseMissingValues(def: PlaybookDef, words: string[]): void {
  const byName = new Map<string, OptionDef>()
  for (const o of def.options) if (o.type === 'string') for (const n of [o.name, o.short]) if (n) byName.set(n, o)
  words.forEach((w, i) => {
    const m = /^--?([^=-][^=]*)(=(.*))?$/.exec(w)
    const o = m && (w.startsWith('--') || m[1].length === 1) ? byName.get(m[1]) : undefined
    if (!m || !o) return
    const attached = m[2] !== undefined
    const next = words[i + 1]
    if (attached ? m[3] === '' : next === undefined || (next.startsWith('-') && next !== '-'))
      throw new InputError(
        `${w.startsWith('--') ? '--' : '-'}${m[1]} needs ${o.noun ?? 'a value'}${attached ? '' : next === undefined ? ' (it is the last argument)' : ` (it is followed by ${next})`}`,
      )
  })
}

/** Parses argv by the definition; every usage error is an InputError (exit 2) that names the option. */
export function parseCommandLine<D extends PlaybookDef>(def: D, argv: string[]): ArgsOf<D> {
  // First leniently, to name every unknown option at once (node's strict parser stops at the first).
  const loose = nodeParseArgs(config(def, argv, false)).tokens ?? []
  const names = new Set([...def.options, HELP].flatMap((o) => [o.name, o.short]))
  const unknown = loose.filter((t): t is Token & { kind: 'option' } => t.kind === 'option' && !names.has(t.name)).map((t) => t.rawName)
  if (unknown.length)
    throw new InputError(`unknown option${unknown.length > 1 ? 's' : ''}: ${[...new Set(unknown)].join(' ')} (known: ${knownOptions(def).join(' ')})`)
  const end = argv.indexOf('--')
  refuseMissingValues(def, end >= 0 ? argv.slice(0, end) : argv)

  let parsed: ReturnType<typeof nodeParseArgs>
  try {
    parsed = nodeParseArgs(config(def, argv, true))
  } catch (e) {
    // What is left: a value given to a flag (`--json=yes`); node's message names the option.
    throw new InputError(`usage: ${(e as Error).message}`)
  }
  const out: Record<string, unknown> = { _: [], '--': [], help: parsed.values.help === true }
  for (const o of def.options) {
    const v = parsed.values[o.name]
    if (o.type === 'boolean') out[o.name] = v === true
    else {
      const values = (v as string[] | undefined) ?? []
      if (!o.multiple && values.length > 1) throw new InputError(`${flag(o)} was given ${values.length} times (${values.join(', ')}): give it once`)
      if (o.choices) {
        const bad = values.find((x) => !o.choices!.includes(x))
        if (bad !== undefined) throw new InputError(`${flag(o)} must be ${o.choices.join(' or ')} (got ${JSON.stringify(bad)})`)
      }
      out[o.name] = o.multiple ? values : values[0]
    }
  }
  const terminator = parsed.tokens!.find((t) => t.kind === 'option-terminator')?.index ?? Infinity
  for (const t of parsed.tokens!) if (t.kind === 'positional') (t.index > terminator ? (out['--'] as string[]) : (out._ as string[])).push(t.value)
  return out as ArgsOf<D>
}
