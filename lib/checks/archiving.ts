// Seed 001: "verify that archiving is occurring on both servers". An archive directory is
// alive when its newest file is younger than maxAgeMinutes, measured on the node's own clock.
import type { Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import { ago } from '../format.ts'
import { combine, perNode } from './node.ts'
import type { Check, Verdict } from './types.ts'

type Archive = NonNullable<Pair['archives']>[number]

/** Line 1: node clock; line 2: MISSING, EMPTY, or "mtime count name" of the newest file. */
export function archiveScript(a: Archive): string {
  return (
    sh`date +%s; d=${a.path}; if [ ! -d "$d" ]; then echo MISSING; exit 0; fi; ` +
    `n=$(find "$d" -type f -printf '%T@ %P\\n' | sort -n -k1,1 | tail -n 1); ` +
    `c=$(find "$d" -type f -printf x | wc -c); if [ -z "$n" ]; then echo EMPTY; else echo "$c $n"; fi`
  )
}

export function judgeArchive(a: Archive, stdout: string): Verdict {
  const [clock, line = ''] = stdout.split('\n')
  const now = Number(clock)
  if (line === 'MISSING') return { ok: false, detail: `${a.path} does not exist: check the archiver and the path in the inventory` }
  if (line === 'EMPTY') return { ok: false, detail: `${a.path} holds no files: archiving has never run here` }
  const m = /^(\d+) (\d+(?:\.\d+)?) (.*)$/.exec(line)
  if (!m || !Number.isFinite(now)) throw new Error(`unexpected archive listing: ${stdout.slice(0, 120)}`)
  const ageS = now - Number(m[2])
  const what = `newest ${m[3]} ${ago(ageS)} ago (${m[1]} files, max ${a.maxAgeMinutes} min)`
  return ageS <= a.maxAgeMinutes * 60
    ? { ok: true, detail: what }
    : { ok: false, detail: `${what}: archiving has stopped; check the archiver's process and log` }
}

export const archivingCheck: Check = {
  name: 'archiving',
  summary: 'each archive directory received a new file within its maxAgeMinutes',
  run: (ctx) =>
    perNode(ctx, 'archiving', async (_node, s) => {
      const parts: (Verdict & { label: string })[] = []
      for (const a of ctx.pair.archives ?? []) {
        const r = await s.run({ script: archiveScript(a) }, { timeoutMs: 600_000 })
        parts.push({ ...judgeArchive(a, r.stdout), label: a.name })
      }
      return combine(parts, 'no archives declared')
    }),
}
