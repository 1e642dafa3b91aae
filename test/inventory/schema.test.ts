// The committed JSON Schema is generated from lib/inventory/schema.ts and must not drift from it;
// every inventory shipped in inventory/ must validate and point editors at the schema.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'
import { schemaDocument } from '../../lib/inventory/schema.ts'
import { generatedFiles } from '../../lib/inventory/generate.ts'
import { loadInventory } from '../../lib/inventory/load.ts'
import { InputError } from '../../lib/errors.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const SCHEMA = path.join(root, 'schemas/inventory.schema.json')
const committed = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, any>

test('the precompiled validator is what lib/inventory/generate.ts makes from the schema', () => {
  const fresh = generatedFiles()['schemas/inventory.validate.mjs']
  assert.ok(
    readFileSync(path.join(root, 'schemas/inventory.validate.mjs'), 'utf8') === fresh,
    'schemas/inventory.validate.mjs is out of date: run npm run schema',
  )
})

test('schemas/inventory.schema.json is what lib/inventory/schema.ts generates', () => {
  const fresh = JSON.parse(JSON.stringify(schemaDocument()))
  if (JSON.stringify(fresh) !== JSON.stringify(committed)) {
    assert.unreachable('schemas/inventory.schema.json is out of date with lib/inventory/schema.ts: run npm run schema')
  }
  // Byte for byte too, so the generator's formatting is what gets committed.
  assert.is(readFileSync(SCHEMA, 'utf8'), JSON.stringify(schemaDocument(), null, 2) + '\n', 'formatting differs: run npm run schema')
})

test('the schema declares JSON Schema draft 2020-12 and an $id', () => {
  assert.is(committed.$schema, 'https://json-schema.org/draft/2020-12/schema')
  assert.is(committed.$id, 'https://hapair.dev/schemas/inventory.schema.json')
  assert.is(committed.type, 'object')
})

test('every object in the schema rejects unknown properties (typos fail loudly)', () => {
  const open: string[] = []
  const walk = (s: unknown, at: string) => {
    if (Array.isArray(s)) return s.forEach((x, i) => walk(x, `${at}/${i}`))
    if (!s || typeof s !== 'object') return
    const o = s as Record<string, unknown>
    if (o.type === 'object' && o.properties && o.additionalProperties !== false) open.push(at || '(root)')
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`)
  }
  walk(committed, '')
  assert.equal(open, [], `objects that accept any property: ${open.join(', ')}`)
})

test('unions of literals are written as enums (one readable error, not one per branch)', () => {
  const anyOfConst: string[] = []
  const walk = (s: unknown, at: string) => {
    if (Array.isArray(s)) return s.forEach((x, i) => walk(x, `${at}/${i}`))
    if (!s || typeof s !== 'object') return
    const o = s as Record<string, unknown>
    if (Array.isArray(o.anyOf) && o.anyOf.every((b) => b && typeof b === 'object' && 'const' in b)) anyOfConst.push(at)
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`)
  }
  walk(committed, '')
  assert.equal(anyOfConst, [])
})

// Other engineers add example inventories to inventory/ over time: every one of them is checked.
const INV_DIR = path.join(root, 'inventory')
const inventories = readdirSync(INV_DIR)
  .filter((f) => /\.(json|ya?ml)$/i.test(f))
  .sort()

test('inventory/ holds at least lab.json', () => {
  assert.ok(inventories.includes('lab.json'), `found: ${inventories.join(', ')}`)
})

for (const name of inventories) {
  const file = path.join(INV_DIR, name)
  const data = () => {
    const text = readFileSync(file, 'utf8')
    return (/\.ya?ml$/i.test(name) ? YAML.parse(text) : JSON.parse(text)) as Record<string, unknown>
  }

  test(`inventory/${name} validates`, () => {
    try {
      loadInventory(file)
    } catch (e) {
      if (e instanceof InputError) assert.unreachable(e.message)
      throw e
    }
  })

  test(`inventory/${name} has "version": 1`, () => {
    assert.is(data().version, 1)
  })

  test(`inventory/${name} references the schema with $schema`, () => {
    const ref = data().$schema
    assert.type(ref, 'string', 'add "$schema": "../schemas/inventory.schema.json" so editors validate it')
    const s = ref as string
    if (s !== committed.$id) {
      const target = path.resolve(INV_DIR, s)
      assert.ok(existsSync(target), `$schema "${s}" does not exist (resolved to ${target})`)
      assert.is(target, SCHEMA, `$schema "${s}" is not schemas/inventory.schema.json`)
    }
  })
}

test.run()
