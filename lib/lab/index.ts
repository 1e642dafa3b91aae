// The lab's programmatic API: playbooks/lab.ts is a thin CLI over it, and other modules'
// integration tests drive a real pair with it (usually through test/helpers/lab.ts).
import { InputError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import { teardown } from './down.ts'
import { resolveNode } from './fault.ts'
import { nodeExec, nodeExecInherit } from './node.ts'
import { labPlan } from './plan.ts'
import type { ProcResult } from './proc.ts'
import { requireLabHost } from './tools.ts'
import type { LabOptions } from './up.ts'

export { labUp, type LabOptions, type LabUpResult } from './up.ts'
export { labStatus, formatLabStatus, type LabStatus, type LabNodeStatus } from './status.ts'
export { labFault, labPowerOff, labPowerOn, labPowerState, FAULTS, type FaultKind } from './fault.ts'
export { labPartition, labLoss, labPause, labResume, labHealAll } from './fault.ts'
export { CONTROLLER, parsePercent, type Partition } from './nft.ts'
export { labPlan, nodeNs, bridgeNs, rootVeth, relocateInventory, type LabPlan, type NodePlan } from './plan.ts'
export { SVC } from './services.ts'
export type { ProcResult } from './proc.ts'

/** Removes the lab (fine when nothing is there); returns one line per thing removed. */
export async function labDown(inv: LoadedInventory, opts: LabOptions = {}): Promise<string[]> {
  requireLabHost()
  const t0 = Date.now()
  const removed = await teardown(inv, labPlan(inv))
  for (const r of removed) opts.log?.(r)
  opts.log?.(removed.length ? `lab ${labPlan(inv).lab} down in ${((Date.now() - t0) / 1000).toFixed(1)} s` : `lab ${labPlan(inv).lab}: nothing to remove`)
  return removed
}

function checkArgv(argv: string[]): void {
  if (!argv.length) throw new InputError('lab exec: no command given (usage: lab exec NODE -- CMD ARGS...)')
}

/**
 * Runs argv on the node (inside its network and mount namespaces: its /srv, its addresses),
 * output captured; the exit code is the command's (128+N when killed by signal N).
 */
export async function labExec(inv: LoadedInventory, node: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
  requireLabHost()
  checkArgv(argv)
  const { n } = resolveNode(inv, node)
  return nodeExec(n, argv, opts)
}

/** Same with the caller's stdin/stdout/stderr (the CLI's `lab exec`); resolves with the exit code. */
export async function labExecInherit(inv: LoadedInventory, node: string, argv: string[]): Promise<number> {
  requireLabHost()
  checkArgv(argv)
  const { n } = resolveNode(inv, node)
  return nodeExecInherit(n, argv)
}
