// The faults of issue 10, each applied to node-a through lib/lab: a cut cable, a power cut, a
// hung machine (every process SIGSTOPped: its kernel still answers, nothing in userland does),
// and random loss on its cable for the soak.
import type { LoadedInventory } from '../../lib/inventory/load.ts'
import { labFault, labLoss, labPause, labPowerState, labResume } from '../../lib/lab/index.ts'
import { sleep } from './proc.ts'

export const FAULTS = ['link', 'power', 'pause'] as const
export type Fault = (typeof FAULTS)[number]

export async function inject(inv: LoadedInventory, fault: Fault, node: string): Promise<void> {
  switch (fault) {
    case 'link':
      await labFault(inv, 'isolate', node)
      return
    case 'power':
      // Frozen first: the lab's kill is a sweep of SIGKILLs, and a process that outlives its
      // parent by a moment can still act (keepalived's VRRP child, sent SIGTERM by its parent's
      // death, announces priority 0 and hands over in 0.6 s). A real power cut lets nothing act.
      await labPause(inv, node)
      await labFault(inv, 'kill', node)
      return
    case 'pause':
      await labPause(inv, node)
  }
}

/**
 * Whatever happened to the node (our fault, or a fencing driver powering it off after it), it
 * ends running, plugged in and powered on, holding no floating IP: power-on never grabs one.
 */
export async function restoreNode(inv: LoadedInventory, node: string): Promise<void> {
  await labResume(inv, node)
  await labFault(inv, 'heal', node)
  if (labPowerState(inv, node) === 'off') {
    try {
      await labFault(inv, 'start', node)
    } catch (e) {
      // Seen twice under load 16-23 on 2 cores: power-on's own startServices found the new
      // holder "powered off" (holderPid wants the `sleep` the holder execs after "ready"). The
      // node is up by then; a second power-on takes the "already on" path and starts services.
      await sleep(500)
      if (labPowerState(inv, node) === 'off') throw e
      await labFault(inv, 'start', node)
    }
  }
}

/** Loss on the node's cable, both directions, dropped at the bridge: nothing on a node can undo it. */
export const lossOn = (inv: LoadedInventory, node: string, percent: number) => labLoss(inv, node, percent)
export const lossOff = (inv: LoadedInventory, node: string) => labLoss(inv, node, 0)
