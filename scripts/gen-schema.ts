// Writes schemas/inventory.schema.json from lib/inventory/schema.ts (the single source).
import { writeFileSync } from 'node:fs'
import { schemaDocument } from '../lib/inventory/schema.ts'

const out = new URL('../schemas/inventory.schema.json', import.meta.url)
writeFileSync(out, JSON.stringify(schemaDocument(), null, 2) + '\n')
console.log(`wrote ${out.pathname}`)
