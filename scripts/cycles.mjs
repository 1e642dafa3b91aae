// No import cycles: none between files (madge, as zx uses it; type-only imports do not count,
// they vanish at run time), and no two directories under lib/ that import each other, except the
// pairs listed below with the reason. lib/ itself is the shared base every directory may use, so edges to
// and from it are not cycles of this kind. Exit 1 names each cycle.
import madge from 'madge'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
/** Directory pairs that may import each other, and why. */
const ALLOWED = new Map([])

const res = await madge(
  ['lib', 'playbooks', 'stacks', 'bin'].map((d) => path.join(root, d)),
  {
    baseDir: root,
    fileExtensions: ['ts', 'mjs'],
    tsConfig: path.join(root, 'tsconfig.json'),
    detectiveOptions: { ts: { skipTypeImports: true }, es6: { skipTypeImports: true } },
  },
)
const problems = []
for (const c of res.circular()) problems.push(`file cycle: ${c.join(' -> ')} -> ${c[0]}`)

const graph = res.obj()
const dir = (f) => path.posix.dirname(f)
const edges = new Map()
for (const [f, deps] of Object.entries(graph)) {
  for (const d of deps) {
    const [a, b] = [dir(f), dir(d)]
    if (a === b || a === 'lib' || b === 'lib' || !a.startsWith('lib/') || !b.startsWith('lib/')) continue
    if (!edges.has(a)) edges.set(a, new Map())
    if (!edges.get(a).has(b)) edges.get(a).set(b, `${f} -> ${d}`)
  }
}
// Two directories in a cycle: each imports the other directly (the kind a move fixes; longer
// loops run through lib/inventory's validation, which calls the rules of the blocks it checks).
for (const [a, out] of edges) {
  for (const [b, why] of out) {
    const back = edges.get(b)?.get(a)
    if (!back || b < a) continue
    const key = `${a} <-> ${b}`
    if (!ALLOWED.has(key)) problems.push(`directory cycle: ${key} (${why}; ${back})`)
  }
}
if (problems.length) {
  console.error(problems.join('\n'))
  process.exit(1)
}
console.log(`no import cycles (${Object.keys(graph).length} files; allowed directory pairs: ${[...ALLOWED.keys()].join(', ') || 'none'})`)
