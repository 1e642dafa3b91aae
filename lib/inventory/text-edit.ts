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

// ---- YAML ------------------------------------------------------------------------------------

/** The file's own indentation unit and sequence style, so inserted blocks look like their neighbours. */
function yamlFormatting(text: string): { indent: number; indentSeq: boolean; eol: string } {
  const widths = [...text.matchAll(/\n( +)\S/g)].map((m) => m[1].length)
  const indent = widths.length ? Math.min(...widths, 8) : 2
  // "key:\n- item" at the key's own column: sequences not indented under their key.
  const indentSeq = !/(^|\n)( *)[^\s#-][^\n]*:[ \t]*(#[^\n]*)?\r?\n\2- /.test(text)
  return { indent, indentSeq, eol: text.includes('\r\n') ? '\r\n' : '\n' }
}

const isCollection = (v: unknown) => typeof v === 'object' && v !== null

/** One scalar or collection on one line, as it may stand inside a flow collection: `{ a: 1 }` or `{a: 1}`. */
function yamlInline(value: unknown, padded: boolean): string {
  const pad = padded ? ' ' : ''
  if (Array.isArray(value)) return value.length ? `[${pad}${value.map((v) => yamlInline(v, padded)).join(', ')}${pad}]` : '[]'
  if (isObject(value)) {
    const e = Object.entries(value).filter(([, v]) => v !== undefined)
    return e.length ? `{${pad}${e.map(([k, v]) => `${yamlInline(k, padded)}: ${yamlInline(v, padded)}`).join(', ')}${pad}}` : '{}'
  }
  // The yaml library's own flow rendering of a one-element sequence quotes what a flow context needs quoted.
  return YAML.stringify([value], { collectionStyle: 'flow', lineWidth: 0 }).trim().slice(2, -2)
}

/** A new scalar in the style of the one it replaces: double- or single-quoted stays so, plain stays plain where it can. */
function yamlScalarLike(old: YAML.Scalar, value: unknown, inFlow: boolean): string {
  if (typeof value === 'string' && old.type === 'QUOTE_DOUBLE') return JSON.stringify(value)
  if (typeof value === 'string' && old.type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`
  return inFlow ? yamlInline(value, false) : YAML.stringify(value, { lineWidth: 0 }).trimEnd()
}

/** `key: value` (a block value on the lines after), its first line unindented, the rest at indent. */
function yamlBlockEntry(key: string | number | undefined, value: unknown, indent: string, f: ReturnType<typeof yamlFormatting>): string {
  const body = YAML.stringify(key === undefined ? [value] : { [key]: value }, { indent: f.indent, indentSeq: f.indentSeq, lineWidth: 0 }).trimEnd()
  return body
    .split('\n')
    .map((l, i) => (i === 0 ? l : indent + l))
    .join(f.eol)
}

const lineStart = (text: string, at: number) => text.lastIndexOf('\n', at - 1) + 1
/** Just past the end of the line `at` is on (its newline included). */
function lineEnd(text: string, at: number): number {
  if (at > 0 && text[at - 1] === '\n') return at
  const nl = text.indexOf('\n', at)
  return nl < 0 ? text.length : nl + 1
}

/**
 * Sets (or, with undefined, removes) one value in YAML text. A scalar's own characters are
 * replaced; a collection is rewritten where it stands (on its line in a flow collection, as a
 * block at its key's indentation otherwise); a missing key becomes one new entry in its mapping.
 * Everything else — comments, flow mappings, quoting, key order — keeps its bytes. Where the
 * text is laid out some way this does not handle, the yaml Document API does the edit (comments
 * kept, though it may respace the file).
 */
export function yamlSet(text: string, at: Path, value: unknown): string {
  const doc = YAML.parseDocument(text)
  const node = doc.getIn(at, true) as YAML.Node | undefined
  const parent = (at.length ? doc.getIn(at.slice(0, -1), true) : undefined) as YAML.Node | undefined
  const key = at[at.length - 1]
  const f = yamlFormatting(text)
  // Any flow collection on the way down puts the value in a flow context: one line, no block,
  // spaced like the outermost one (`{ a: 1 }` or `{a: 1}`).
  let flowStart: number | undefined
  for (let i = 0; i < at.length && flowStart === undefined; i++) {
    const c = doc.getIn(at.slice(0, i), true) as YAML.Node | undefined
    if ((YAML.isMap(c) || YAML.isSeq(c)) && c.flow && c.range) flowStart = c.range[0]
  }
  const inFlow = flowStart !== undefined
  const flowPadded = inFlow && /^[[{] /.test(text.slice(flowStart, flowStart! + 2))
  const fallback = () => {
    if (value === undefined) doc.deleteIn(at)
    else doc.setIn(at, value)
    return doc.toString()
  }
  if (at.length && !(YAML.isMap(parent) || YAML.isSeq(parent))) {
    if (value === undefined) return text
    const up = at.slice(0, -1)
    return up.length && !YAML.isNode(parent) ? yamlSet(text, up, typeof key === 'number' ? [value] : { [key]: value }) : fallback()
  }
  const pairOf = () => (YAML.isMap(parent) ? parent.items.find((p) => YAML.isScalar(p.key) && String(p.key.value) === String(key)) : undefined)

  if (value === undefined) {
    if (node === undefined) return text
    if (!YAML.isMap(parent) || !node.range) return fallback()
    const items = parent.items
    const i = items.findIndex((p) => p === pairOf())
    const k = items[i]?.key as YAML.Node | undefined
    if (!k?.range) return fallback()
    if (parent.flow) {
      const next = items[i + 1]?.key as YAML.Node | undefined
      const prev = items[i - 1]?.value as YAML.Node | undefined
      if (next?.range) return splice(text, k.range[0], next.range[0] - k.range[0], '')
      if (prev?.range) return splice(text, prev.range[1], node.range[1] - prev.range[1], '')
      return parent.range ? splice(text, parent.range[0], parent.range[1] - parent.range[0], '{}') : fallback()
    }
    const from = lineStart(text, k.range[0])
    if (text.slice(from, k.range[0]).trim() !== '') return fallback() // "- key: …" starts a sequence item: leave it to the Document API
    return splice(text, from, lineEnd(text, node.range[1]) - from, '')
  }

  if (node?.range) {
    if (YAML.isScalar(node) && !isCollection(value)) {
      // "key:" with nothing after it: the new value needs the space a colon wants before it.
      const gap = node.range[0] === node.range[1] && text[node.range[0] - 1] === ':' ? ' ' : ''
      return splice(text, node.range[0], node.range[1] - node.range[0], gap + yamlScalarLike(node, value, inFlow))
    }
    if (inFlow || ((YAML.isMap(node) || YAML.isSeq(node)) && node.flow)) {
      const own = text.slice(node.range[0], node.range[1])
      const padded = /^[[{]/.test(own) ? /^[[{] /.test(own) : flowPadded
      return splice(text, node.range[0], node.range[1] - node.range[0], yamlInline(value, padded))
    }
    // A block collection (or a scalar becoming one) under a key: the whole entry rewritten at the key's column.
    const p = pairOf()
    const k = p?.key as YAML.Node | undefined
    if (!k?.range) return fallback()
    const indent = text.slice(lineStart(text, k.range[0]), k.range[0]).replace(/[^\t]/g, ' ')
    // A scalar's entry ends with its line (a trailing comment goes with the old value); a block collection's range ends past its last line.
    const end = YAML.isScalar(node) ? lineEnd(text, node.range[1]) : node.range[1]
    return splice(text, k.range[0], end - k.range[0], yamlBlockEntry(String(key), value, indent, f) + (text[end - 1] === '\n' ? f.eol : ''))
  }

  // Missing: a new entry at the end of its mapping (or sequence).
  const coll = parent as YAML.YAMLMap | YAML.YAMLSeq
  if (YAML.isSeq(coll) && key !== coll.items.length) throw new Error(`yamlSet: index ${key} past the end of a sequence of ${coll.items.length}`)
  const items = coll.items as unknown[]
  const last = items[items.length - 1]
  const lastNode = (YAML.isPair(last) ? (last.value ?? last.key) : last) as YAML.Node | undefined
  const firstNode = (YAML.isPair(items[0]) ? items[0].key : items[0]) as YAML.Node | undefined
  if (!lastNode?.range || !firstNode?.range || !coll.range) return fallback()
  if (coll.flow) {
    const padded = /^[[{] /.test(text.slice(coll.range[0], coll.range[0] + 2))
    const entry = YAML.isMap(coll) ? `${yamlInline(String(key), padded)}: ${yamlInline(value, padded)}` : yamlInline(value, padded)
    return splice(text, lastNode.range[1], 0, `, ${entry}`)
  }
  // What precedes the first entry on its line: a mapping's indentation ("- " of a sequence item
  // counts as indentation for the mapping inside it), or a sequence's indentation and its "- ".
  const before = text.slice(lineStart(text, firstNode.range[0]), firstNode.range[0])
  const indent = (YAML.isSeq(coll) ? before.replace(/-\s*$/, '') : before).replace(/[^\t]/g, ' ')
  const line = `${indent}${yamlBlockEntry(YAML.isMap(coll) ? String(key) : undefined, value, indent, f)}${f.eol}`
  const end = lineEnd(text, lastNode.range[1])
  return splice(text, end, 0, (end === text.length && !text.endsWith('\n') ? f.eol : '') + line)
}

/** Edits YAML text (whose value is before) until it reads after, one changed value at a time. */
export function yamlApply(text: string, before: unknown, after: unknown, at: Path = []): string {
  if (JSON.stringify(before) === JSON.stringify(after)) return text
  if (isObject(before) && isObject(after)) {
    for (const k of Object.keys(before)) if (!(k in after)) text = yamlSet(text, [...at, k], undefined)
    for (const k of Object.keys(after)) text = k in before ? yamlApply(text, before[k], after[k], [...at, k]) : yamlSet(text, [...at, k], after[k])
    return text
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    after.forEach((v, i) => (text = yamlApply(text, before[i], v, [...at, i])))
    return text
  }
  return yamlSet(text, at, after)
}
