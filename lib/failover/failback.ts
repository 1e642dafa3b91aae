// Before a failback switches over, every node gets the active node's data: a normal sync out
// of the active node (the direction guard holds) to every other node, then freshness measured
// on the preferred primary. Nodes that could not be reached are marked pending by the sync.
import type { LoadedInventory } from '../inventory/load.ts'
import { RefusedError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { runSync } from '../sync/index.ts'
import type { SyncProgress } from '../sync/progress.ts'
import { behind } from '../freshness.ts'
import type { Plan } from './plan.ts'
import { archiveInflight, recoverInflight } from '../sync/follow/recover.ts'

/** progress: the sync-back's transfers are shown as sync shows them (the playbook's stderr meter). */
export async function failbackSync(inv: LoadedInventory, pool: SshPool, plan: Plan, force: boolean, progress?: SyncProgress): Promise<string> {
  if (!plan.pair.sync?.items.length) return 'no sync items'
  const active = plan.obs.view.active
  // The records already name the target: its data is the newest there is; nothing flows into it.
  if (active === plan.to.name) return `${plan.to.name} is the recorded active node: nothing to bring back`
  // The target's own changes that never reached the active node go there first, or are given up.
  let recovered = ''
  if (plan.inflight?.mode === 'recover') {
    const r = await recoverInflight(inv, pool, plan.pair, plan.inflight.rec)
    recovered = `recovered ${r.sent} in-flight file(s) from ${plan.to.name} (replaced copies in ${r.backupDir}${r.skippedDeletes ? `; ${r.skippedDeletes} deletion(s) not repeated` : ''}); `
  }
  // lockHeld: this failback holds the pair's lock itself; sync refuses to run under anyone else's.
  const report = await runSync(inv, plan.pair, pool, { lockHeld: true, force, progress })
  const sent = report.results.reduce((n, r) => n + r.sent, 0)
  const elsewhere = report.results.filter((r) => r.target !== plan.to.name && r.outcome !== 'ok' && r.outcome !== 'skipped')
  const lacks = (await behind(pool, plan.pair, active, [plan.to.name]))[plan.to.name] ?? []
  if (lacks.length && !force) {
    throw new RefusedError(
      `refused: ${plan.to.name} is still behind ${active} after the sync: ${lacks.map((l) => `${l.item} (${l.why})`).join('; ')}; --force switches to possibly older data`,
    )
  }
  // Settled once the target has the active node's data: the list is kept under a dated name.
  if (plan.inflight) recovered += `in-flight list kept as ${await archiveInflight(pool, plan.pair, active, plan.inflight.mode)}; `
  const pending = elsewhere.length ? `; still owed (marked pending): ${elsewhere.map((r) => `${r.item} -> ${r.target}`).join(', ')}` : ''
  return `${recovered}synced ${report.results.length} item/target(s) from ${active} (${sent} files sent); ${plan.to.name} up to date${lacks.length ? ` except ${lacks.map((l) => l.item).join(', ')} (forced)` : ''}${pending}`
}
