// Changing values inside an inventory's own text. People keep inventories in git and review
// diffs of them: an edit must leave every byte it does not change as the author wrote it
// (comments, flow mappings, one-line objects, quoting, blank lines), so a re-render is never used.
import { applyEdits, findNodeAtLocation, modify, parseTree, type Node } from 'jsonc-parser'
import YAML from 'yaml'

type Path = (string | number)[]

/** The file's own indentation unit and line ending, so inserted text looks like its neighbours. */
export function jsonFormatting(text: string) {
  const indents = [...text.matchAll(/\n([ \t]+)\S/g)].map((m) => m[1])
  const tabs = indents.length > 0 && indents[0].startsWith('\t')
  const width = Math.min(...indents.filter((s) => !s.includes('\t')).map((s) => s.length), 8)
  return { insertSpaces: !tabs, tabSize: tabs ? 1 : Number.isFinite(width) && width > 0 ? width : 2, eol: text.includes('\r\n') ? '\r\n' : '\n' }
}

/** The whitespace that lines up with offset: the line's own indent, or blanks to that column when text precedes it. */
function indentAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1
  const before = text.slice(lineStart, offset)
  return /^[ \t]*$/.test(before) ? before : before.replace(/[^\t]/g, ' ')
}

function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1
  return /^[ \t]*/.exec(text.slice(lineStart))![0]
}

/** value as JSON in the file's style, its continuation lines indented from indent. */
function render(text: string, value: unknown, indent: string): string {
  const f = jsonFormatting(text)
  return JSON.stringify(value, null, f.insertSpaces ? ' '.repeat(f.tabSize) : '\t')
    .split('\n')
    .join(f.eol + indent)
}

/** value on one line, spaced like the one-line object it goes into (`{ "a": 1 }` or `{"a": 1}`). */
function renderInline(value: unknown, padded: boolean): string {
  const pad = padded ? ' ' : ''
  if (Array.isArray(value)) return value.length ? `[${pad}${value.map((v) => renderInline(v, padded)).join(', ')}${pad}]` : '[]'
  if (typeof value === 'object' && value !== null) {
    const e = Object.entries(value).filter(([, v]) => v !== undefined)
    return e.length ? `{${pad}${e.map(([k, v]) => `${JSON.stringify(k)}: ${renderInline(v, padded)}`).join(', ')}${pad}}` : '{}'
  }
  return JSON.stringify(value)
}

const splice = (text: string, at: number, remove: number, insert: string) => text.slice(0, at) + insert + text.slice(at + remove)

/** Sets (or, with undefined, removes) one value in JSON text; everything else keeps its bytes. */
export function jsonSet(text: string, at: Path, value: unknown): string {
  const root = parseTree(text)
  if (!root) throw new Error('jsonSet: not JSON')
  const node = findNodeAtLocation(root, at)
  if (value === undefined) return node ? applyEdits(text, modify(text, at, undefined, {})) : text
  if (node) {
    // A value inside a one-line object or array stays on that line, and so does one the author
    // wrote on one line; an empty one grows the way the file is laid out.
    const holder = node.parent?.type === 'property' ? node.parent.parent : node.parent
    const own = text.slice(node.offset, node.offset + node.length)
    const ownLine = (node.children?.length ?? 0) > 0 && !own.includes('\n')
    const line = ownLine || (!!holder && !text.slice(holder.offset, holder.offset + holder.length).includes('\n'))
    const padded = ownLine ? /^[[{] /.test(own) : !!holder && /^[[{] /.test(text.slice(holder.offset, holder.offset + 2))
    return splice(text, node.offset, node.length, line ? renderInline(value, padded) : render(text, value, lineIndent(text, node.offset)))
  }
  const parent = findNodeAtLocation(root, at.slice(0, -1))
  const key = at[at.length - 1]
  if (!parent) return jsonSet(text, at.slice(0, -1), typeof key === 'number' ? [value] : { [key]: value })
  const members: Node[] = parent.children ?? []
  const entry = (indent: string) => (parent.type === 'object' ? `${JSON.stringify(key)}: ${render(text, value, indent)}` : render(text, value, indent))
  if (parent.type === 'array' && key !== members.length) throw new Error(`jsonSet: index ${key} past the end of an array of ${members.length}`)
  const last = members[members.length - 1]
  if (!last) {
    // An empty {} or []: let jsonc-parser lay it out in the file's style.
    const f = jsonFormatting(text)
    return applyEdits(text, modify(text, at, value, { formattingOptions: { insertSpaces: f.insertSpaces, tabSize: f.tabSize, eol: f.eol } }))
  }
  const end = last.offset + last.length
  const oneLine = !text.slice(parent.offset, end).includes('\n')
  if (oneLine) {
    const padded = /^[[{] /.test(text.slice(parent.offset, parent.offset + 2))
    const inline = renderInline(value, padded)
    return splice(text, end, 0, `, ${parent.type === 'object' ? `${JSON.stringify(key)}: ${inline}` : inline}`)
  }
  // Line up with the first member when it starts its own line, as pretty-printed files do.
  const firstOwnLine = /^[ \t]*$/.test(text.slice(text.lastIndexOf('\n', members[0].offset - 1) + 1, members[0].offset))
  const indent = indentAt(text, firstOwnLine ? members[0].offset : last.offset)
  return splice(text, end, 0, `,${jsonFormatting(text).eol}${indent}${entry(indent)}`)
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/** Edits text (whose value is before) until it reads after, one changed value at a time. */
export function jsonApply(text: string, before: unknown, after: unknown, at: Path = []): string {
  if (JSON.stringify(before) === JSON.stringify(after)) return text
  if (isObject(before) && isObject(after)) {
    for (const k of Object.keys(before)) if (!(k in after)) text = jsonSet(text, [...at, k], undefined)
    for (const k of Object.keys(after)) text = k in before ? jsonApply(text, before[k], after[k], [...at, k]) : jsonSet(text, [...at, k], after[k])
    return text
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    after.forEach((v, i) => (text = jsonApply(text, before[i], v, [...at, i])))
    return text
  }
  return jsonSet(text, at, after)
}

/**
 * Sets one scalar in YAML text: an existing value's own characters are replaced, a missing key
 * becomes one new entry in its mapping (a line in a block mapping, ", key: value" in a flow one).
 * Undefined when the mapping is not there (the caller falls back to the Document API).
 */
export function yamlSetScalar(text: string, at: Path, value: string): string | undefined {
  const doc = YAML.parseDocument(text)
  const node = doc.getIn(at, true)
  if (YAML.isScalar(node) && node.range) return splice(text, node.range[0], node.range[1] - node.range[0], value)
  const map = doc.getIn(at.slice(0, -1), true)
  if (!YAML.isMap(map) || node !== undefined) return undefined
  const key = String(at[at.length - 1])
  const pairs = map.items
  const last = pairs[pairs.length - 1]
  const lastNode = (last?.value ?? last?.key) as YAML.Node | undefined
  if (!lastNode?.range || !(pairs[0].key as YAML.Node | undefined)?.range) return undefined
  const end = lastNode.range[1]
  if (map.flow) return splice(text, end, 0, `, ${key}: ${value}`)
  const indent = indentAt(text, (pairs[0].key as YAML.Node).range![0])
  // After the last entry's line, its trailing comment included.
  const eol = text.includes('\r\n') ? '\r\n' : '\n'
  if (text[end - 1] === '\n') return splice(text, end, 0, `${indent}${key}: ${value}${eol}`)
  const nl = text.indexOf('\n', end)
  if (nl < 0) return `${text}${eol}${indent}${key}: ${value}`
  return splice(text, nl + 1, 0, `${indent}${key}: ${value}${eol}`)
}
