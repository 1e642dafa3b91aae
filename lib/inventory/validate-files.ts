// The body of playbooks/validate.ts, callable in-process (the hostile-inventory corpus runs it on every file).
import path from 'node:path'
import { EXIT, InputError } from '../errors.ts'
import type { LoadedInventory } from './load.ts'
import { loadCheckedInventory } from './ssh-files.ts'

export interface ValidateRun {
  code: number
  out: string[]
  err: string[]
}

/** Judges each file; `ok: …` lines for good ones, every problem line for bad ones; exit 2 if any is bad. */
export function validateFiles(
  files: (string | undefined)[],
  load: (file: string | undefined) => LoadedInventory = (f) => loadCheckedInventory(f),
): ValidateRun {
  const run: ValidateRun = { code: EXIT.ok, out: [], err: [] }
  for (const file of files) {
    try {
      const inv = load(file)
      const nodes = inv.data.pairs.reduce((n, p) => n + p.nodes.length, 0)
      const pairs = inv.data.pairs.length
      run.out.push(`ok: ${file ?? path.relative(process.cwd(), inv.file)} (${pairs} pair${pairs === 1 ? '' : 's'}, ${nodes} node${nodes === 1 ? '' : 's'})`)
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      run.err.push(...e.problems)
      run.code = EXIT.badInput
    }
  }
  return run
}
