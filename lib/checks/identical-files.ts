// Seed 003: shared secrets (a web validation key) identical on all servers. Only digests
// leave the nodes, and not even those reach the report: a digest of a short secret can be
// brute-forced, so the detail says "differs", never what it differs to.
import { listSome } from '../format.ts'
import { sh } from '../shell.ts'
import { combine, perNode } from './node.ts'
import type { Check, CheckResult, Verdict } from './types.ts'

export function digestsScript(files: string[]): string {
  return sh`for f in ${files}; do if [ -f "$f" ] && [ -r "$f" ]; then sha256sum < "$f" | cut -c1-64; elif [ -f "$f" ]; then echo unreadable; elif [ -e "$f" ]; then echo 'not a regular file'; else echo missing; fi; done`
}

export function parseDigests(stdout: string, count: number): string[] {
  const lines = stdout.split('\n').filter(Boolean)
  if (lines.length !== count) throw new Error(`expected ${count} digests, got ${lines.length}`)
  return lines
}

const isDigest = (d: string | undefined) => !!d && /^[0-9a-f]{64}$/.test(d)

/** Each node against the active node's copy; the active node only needs to have every file. */
export function compareDigests(files: string[], byNode: Record<string, string[]>, active: string, node: string, listMax = 5): Verdict {
  const mine = byNode[node]
  const ref = byNode[active]
  if (node === active) {
    const bad = files.flatMap((f, i) => (isDigest(mine[i]) ? [] : [`${f} ${mine[i]}`]))
    if (bad.length) return { ok: false, detail: `${listSome(bad, listMax)} on the active node: restore it there first` }
    return { ok: true, detail: `reference for ${files.length} file${files.length > 1 ? 's' : ''}` }
  }
  if (!ref) return { ok: false, detail: `cannot compare: the active node ${active} did not answer` }
  const parts = files.map((f, i): Verdict & { label: string } => {
    if (!isDigest(mine[i])) return { ok: false, detail: mine[i], label: f }
    if (!isDigest(ref[i])) return { ok: true, detail: `not comparable (${ref[i]} on ${active})`, label: f }
    if (mine[i] !== ref[i]) return { ok: false, detail: `differs from ${active} (active): copy it from there`, label: f }
    return { ok: true, detail: 'identical', label: f }
  })
  const v = combine(parts, '')
  return v.ok ? { ok: true, detail: `${files.length} file${files.length > 1 ? 's' : ''} identical to ${active}` } : v
}

export const identicalFilesCheck: Check = {
  name: 'identical-files',
  summary: 'every declared shared secret or config file has the same digest on every node (content never printed)',
  run: async (ctx) => {
    const files = ctx.pair.preconditions?.identicalFiles ?? []
    if (files.length === 0) return perNode(ctx, 'identical-files', async () => ({ ok: true, detail: 'no files declared (preconditions.identicalFiles)' }))
    const byNode: Record<string, string[]> = {}
    const failed: Record<string, CheckResult> = {}
    // First gather every node's digests, then judge: a node is compared with the active one.
    const gathered = await perNode(ctx, 'identical-files', async (node, s) => {
      byNode[node.name] = parseDigests((await s.run({ script: digestsScript(files) })).stdout, files.length)
      return { ok: true, detail: '' }
    })
    for (const r of gathered) if (!r.ok) failed[r.node] = r
    return gathered.map((r) => failed[r.node] ?? { ...r, ...compareDigests(files, byNode, ctx.active, r.node, ctx.listMax) })
  },
}
