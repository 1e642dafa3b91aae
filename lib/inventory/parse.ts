// Inventory text to data, refusing what JSON.parse and YAML.parse would quietly accept or leak:
// a duplicate key (the last one silently wins), and parse errors that quote the start of a file
// that was never an inventory (V8 prints the first characters of /etc/shadow).
import { visit } from 'jsonc-parser'
import YAML, { LineCounter } from 'yaml'
import { InputError } from '../errors.ts'

const ROOT = '(root)'
const pointer = (path: (string | number)[]) => (path.length ? path.map(String).join('/') : ROOT)

// jsonc-parser's ParseErrorCode values (a const enum, not importable at run time).
const JSON_ERRORS: Record<number, string> = {
  1: 'unexpected character',
  2: 'invalid number',
  3: 'expected a property name in double quotes',
  4: 'expected a value',
  5: 'expected a colon',
  6: 'expected a comma',
  7: 'expected a closing brace }',
  8: 'expected a closing bracket ]',
  9: 'expected the end of the file',
  10: 'comments are not allowed in JSON',
  11: 'unterminated comment',
  12: 'unterminated string',
  13: 'unterminated number',
  14: 'invalid unicode escape',
  15: 'invalid escape character',
  16: 'control character in a string (escape it)',
}

interface Key {
  line: number
}
const dupMessage = (key: string, first: number, second: number) =>
  `duplicate key ${JSON.stringify(key)} (lines ${first} and ${second}): only one may stay, otherwise the last silently wins`

function syntaxError(file: string, kind: string, what: string): InputError {
  return new InputError(`${file}: ${ROOT}: not valid ${kind}: ${what}`)
}

/** Too deep for a recursive parser: no inventory nests more than a dozen levels. */
const tooDeep = (e: unknown) => e instanceof RangeError && /call stack/i.test(e.message)

/** Strict JSON with every duplicate key reported at its JSON path, naming both lines. */
export function parseJson(text: string, file: string): unknown {
  if (!text.trim()) throw syntaxError(file, 'JSON', 'the file is empty')
  const firstToken = text.search(/\S/)
  let error: { code: number; offset: number; length: number; line: number; col: number } | undefined
  const dups: string[] = []
  const objects: Map<string, Key>[] = []
  try {
    visit(
      text,
      {
        onObjectBegin: () => {
          objects.push(new Map())
        },
        onObjectEnd: () => {
          objects.pop()
        },
        onObjectProperty: (key, _offset, _length, line, _col, pathOf) => {
          const seen = objects[objects.length - 1]
          const first = seen?.get(key)
          if (first) dups.push(`${file}: ${pointer([...pathOf(), key])}: ${dupMessage(key, first.line, line + 1)}`)
          else seen?.set(key, { line: line + 1 })
        },
        onError: (code, offset, length, line, col) => {
          error ??= { code, offset, length, line: line + 1, col: col + 1 }
        },
      },
      { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
    )
  } catch (e) {
    if (tooDeep(e)) throw syntaxError(file, 'JSON', 'nested too deeply')
    throw e
  }
  if (error) {
    // Quote the offending text only when something before it parsed: a file that is not JSON at
    // all (a key, a shadow file behind a symlink) must not have its first bytes printed.
    const quote =
      error.offset > firstToken && error.length > 0 ? ` at ${JSON.stringify(text.slice(error.offset, error.offset + Math.min(error.length, 20)))}` : ''
    const what = error.offset >= text.length ? 'unexpected end of the file' : (JSON_ERRORS[error.code] ?? 'syntax error')
    throw syntaxError(file, 'JSON', `${what}${quote} (line ${error.line}, column ${error.col})`)
  }
  if (dups.length) throw new InputError(`${file}: ${dups.length} duplicate key${dups.length > 1 ? 's' : ''}\n${dups.join('\n')}`, dups)
  try {
    return JSON.parse(text)
  } catch {
    // The strict tokenizer accepted what V8 refuses: say so without V8's message, which quotes the text.
    throw syntaxError(file, 'JSON', 'syntax error')
  }
}

/** YAML with duplicate keys reported at their path, naming both lines (the yaml package names only the second). */
export function parseYaml(text: string, file: string): unknown {
  const lines = new LineCounter()
  let doc: YAML.Document.Parsed
  try {
    doc = YAML.parseDocument(text, { uniqueKeys: false, lineCounter: lines, prettyErrors: true })
  } catch (e) {
    if (tooDeep(e)) throw syntaxError(file, 'YAML', 'nested too deeply')
    throw e
  }
  if (doc.errors.length) throw syntaxError(file, 'YAML', doc.errors[0].message.split('\n')[0].replace(/:$/, ''))
  const dups: string[] = []
  const lineOf = (n: unknown) => {
    const r = (n as { range?: number[] })?.range
    return r ? lines.linePos(r[0]).line : 0
  }
  const walk = (node: unknown, path: (string | number)[]) => {
    if (YAML.isMap(node)) {
      const seen = new Map<string, number>()
      for (const item of node.items) {
        const key = YAML.isScalar(item.key) ? String(item.key.value) : String(item.key)
        const first = seen.get(key)
        if (first !== undefined) dups.push(`${file}: ${pointer([...path, key])}: ${dupMessage(key, first, lineOf(item.key))}`)
        else seen.set(key, lineOf(item.key))
        walk(item.value, [...path, key])
      }
    } else if (YAML.isSeq(node)) {
      node.items.forEach((v, i) => walk(v, [...path, i]))
    }
  }
  try {
    walk(doc.contents, [])
  } catch (e) {
    if (tooDeep(e)) throw syntaxError(file, 'YAML', 'nested too deeply')
    throw e
  }
  if (dups.length) throw new InputError(`${file}: ${dups.length} duplicate key${dups.length > 1 ? 's' : ''}\n${dups.join('\n')}`, dups)
  try {
    return doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    if (tooDeep(e)) throw syntaxError(file, 'YAML', 'nested too deeply')
    throw syntaxError(file, 'YAML', String((e as Error)?.message ?? e).split('\n')[0])
  }
}
