// Seed 001: "backups completed today: 1 / last backup finished at …". The nightly view of each
// declared backup: newest archive present, finished within maxAgeHours, its finish time and
// size. Reading the archive through is backup-verify's job.
import { judgeListing, listScript, parseBackupListing } from '../backup/inspect.ts'
import { combine, perNode } from './node.ts'
import type { Check, Verdict } from './types.ts'

export const backupsCheck: Check = {
  name: 'backups',
  summary: 'the newest backup finished within its maxAgeHours (26), with its finish time and size',
  run: (ctx) =>
    perNode(ctx, 'backups', async (_node, s) => {
      const parts: (Verdict & { label: string })[] = []
      for (const b of ctx.pair.backups ?? []) {
        const j = judgeListing(b, parseBackupListing((await s.run({ script: listScript(b) })).stdout, b))
        const v = !j.present.ok
          ? j.present
          : !j.age.ok
            ? j.age
            : !j.size.ok
              ? j.size
              : { ok: true, detail: `${j.age.detail}, ${j.size.detail.replace(`${j.newest!.name} `, '')}` }
        parts.push({ ...v, label: b.name })
      }
      return combine(parts, 'no backups declared')
    }),
}
