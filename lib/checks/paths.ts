// Seed 003: "same local file paths on all servers". Every declared path must exist on every
// node with the declared type; a path that is a directory on one node and a file on the other
// breaks failover as surely as a missing one.
import { listSome } from '../format.ts'
import { sh } from '../shell.ts'
import { combine, perNode } from './node.ts'
import type { Check, Verdict } from './types.ts'

type Declared = { path: string; type: 'file' | 'dir' }
export type Found = 'file' | 'dir' | 'other' | 'missing'

/** One type word per line, in the order given (paths may hold any byte, so output never repeats them). */
export function pathsScript(paths: string[]): string {
  return sh`for p in ${paths}; do if [ -d "$p" ]; then echo dir; elif [ -f "$p" ]; then echo file; elif [ -e "$p" ] || [ -L "$p" ]; then echo other; else echo missing; fi; done`
}

export function parsePathTypes(stdout: string, count: number): Found[] {
  const words = stdout.split('\n').filter(Boolean)
  if (words.length !== count) throw new Error(`expected ${count} path types, got ${words.length}`)
  return words as Found[]
}

export function judgePaths(declared: Declared[], found: Found[], listMax = 5): Verdict {
  const parts = declared.map((d, i): Verdict & { label: string } => {
    const f = found[i]
    if (f === d.type) return { ok: true, detail: d.type, label: d.path }
    if (f === 'missing') return { ok: false, detail: `missing (expected ${d.type}): create it as on the other nodes`, label: d.path }
    return { ok: false, detail: `is ${f === 'other' ? 'neither file nor directory' : `a ${f}`}, expected ${d.type}`, label: d.path }
  })
  const v = combine(parts, 'no paths declared')
  if (v.ok && parts.length) return { ok: true, detail: `all ${parts.length} declared paths present with their type` }
  const bad = parts.filter((p) => !p.ok)
  return bad.length > listMax
    ? {
        ok: false,
        detail: `${bad.length} paths wrong: ${listSome(
          bad.map((p) => `${p.label}: ${p.detail}`),
          listMax,
          '; ',
        )}`,
      }
    : v
}

export const pathsCheck: Check = {
  name: 'paths',
  summary: 'every declared path exists on every node, with the declared type',
  run: (ctx) => {
    const declared = ctx.pair.preconditions?.paths ?? []
    return perNode(ctx, 'paths', async (_node, s) => {
      if (declared.length === 0) return { ok: true, detail: 'no paths declared (preconditions.paths)' }
      const r = await s.run({ script: pathsScript(declared.map((d) => d.path)) })
      return judgePaths(declared, parsePathTypes(r.stdout, declared.length), ctx.listMax)
    })
  },
}
