// Fencing for the lab: the node is a set of namespaces on this machine, so "power off" is
// the lab's own kill fault (every process in it dies, its addresses go with its link).
import { nodeNs } from '../lab/plan.ts'
import type { Node } from '../inventory/schema.ts'
import type { ActionResult, DriverContext, FenceDriver, PowerState } from './types.ts'

export class LabFenceDriver implements FenceDriver {
  readonly kind = 'lab'
  constructor(private readonly ctx: DriverContext) {}

  validate(): string[] {
    return this.ctx.inv.data.lab ? [] : ['fencing driver "lab" needs the inventory\'s "lab" block']
  }

  private ns(node: Node) {
    return nodeNs(this.ctx.inv.data.lab!.name, node.name)
  }

  async status(node: Node): Promise<PowerState> {
    // Read from /proc without a process: this is asked twice on a takeover's critical path.
    const { powerState } = await import('../lab/node.ts')
    return powerState(this.ns(node))
  }

  /** Able to fence: the power state of every node can be read (the lab is up). */
  async check(): Promise<string[]> {
    const states = await Promise.all(this.ctx.pair.nodes.map((n) => this.status(n)))
    return this.ctx.pair.nodes.flatMap((n, i) =>
      states[i] === 'unknown' ? [`pair ${this.ctx.pair.name} fencing ${n.name}: cannot read the lab power state of ${this.ns(n)} (is the lab up?)`] : [],
    )
  }

  async stop(node: Node): Promise<ActionResult> {
    if ((await this.status(node)) === 'off') return { changed: false, detail: `${node.name} already powered off` }
    const { labPowerOff } = await import('../lab/index.ts')
    await labPowerOff(this.ctx.inv, node.name)
    return { changed: true, detail: `${node.name} powered off` }
  }

  async start(node: Node): Promise<ActionResult> {
    if ((await this.status(node)) === 'on') return { changed: false, detail: `${node.name} already powered on` }
    const { labPowerOn } = await import('../lab/index.ts')
    await labPowerOn(this.ctx.inv, node.name)
    return { changed: true, detail: `${node.name} powered on` }
  }

  describe(action: 'start' | 'stop', node: Node): string[] {
    return [`${node.name}: lab ${action === 'stop' ? 'power off (kill every process in ' : 'power on ('}${this.ns(node)})`]
  }
}
