// Writes the files derived from lib/inventory/schema.ts (the single source): see lib/inventory/generate.ts.
import { writeFileSync } from 'node:fs'
import { generatedFiles } from '../lib/inventory/generate.ts'

for (const [file, text] of Object.entries(generatedFiles())) {
  writeFileSync(new URL(`../${file}`, import.meta.url), text)
  console.log(`wrote ${file}`)
}
