// Editors show a property's description on hover: every property of the generated schema has
// one, so an SRE never has to open the source to learn what a field means.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { schemaDocument } from '../../lib/inventory/schema.ts'

const committed = JSON.parse(readFileSync(new URL('../../schemas/inventory.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>

/** Every property of every object, by its inventory path (arrays as []), with its schema. */
export function properties(schema: unknown): { at: string; schema: Record<string, unknown> }[] {
  const out: { at: string; schema: Record<string, unknown> }[] = []
  const walk = (s: unknown, at: string) => {
    if (Array.isArray(s)) return s.forEach((x) => walk(x, at))
    if (!s || typeof s !== 'object') return
    const o = s as Record<string, unknown>
    for (const [k, v] of Object.entries(o)) {
      if (k === 'properties' && v && typeof v === 'object') {
        for (const [name, p] of Object.entries(v as Record<string, unknown>)) {
          out.push({ at: `${at}/${name}`, schema: p as Record<string, unknown> })
          walk(p, `${at}/${name}`)
        }
      } else if (k === 'items') walk(v, `${at}[]`)
      else if (k !== 'default' && k !== 'enum' && k !== 'const') walk(v, at)
    }
  }
  walk(schema, '')
  return out
}

const undescribed = (doc: unknown) =>
  properties(doc)
    .filter((p) => typeof p.schema.description !== 'string' || !p.schema.description.trim())
    .map((p) => p.at)

test("the walk finds the schema's properties, nested ones and those inside arrays", () => {
  const all = properties(committed).map((p) => p.at)
  for (const at of [
    '/version',
    '/pairs[]/nodes[]/ssh/port',
    '/pairs[]/sync/items[]/maxDelete/count',
    '/pairs[]/services[]/checks[]/expectStatus',
    '/pairs[]/provision/servicePorts[]/sources',
  ])
    assert.ok(all.includes(at), `walk missed ${at}`)
  assert.ok(all.length > 150, `only ${all.length} properties found`)
})

test('the walk reports a property without a description', () => {
  assert.equal(
    undescribed({
      type: 'object',
      properties: {
        a: { type: 'string', description: 'x' },
        b: { type: 'array', description: 'y', items: { type: 'object', properties: { c: { type: 'integer' } } } },
      },
    }),
    ['/b[]/c'],
  )
})

test('every property of schemas/inventory.schema.json has a description', () => {
  const missing = undescribed(committed)
  assert.equal(
    missing,
    [],
    `${missing.length} properties without a description (add one in lib/inventory/schema.ts, then npm run schema):\n  ${missing.join('\n  ')}`,
  )
})

test('and so does what lib/inventory/schema.ts generates now', () => {
  assert.equal(undescribed(schemaDocument()), [])
})

test.run()
