// Fencing through a provider's power switch: the STONITH of a cloud pair. Only a server the
// provider reports "off" counts as fenced; after the power-off action succeeds the state is
// read back until it says so, because the failover starts the new writer right after.
import type { Node } from '../inventory/schema.ts'
import type { ActionResult, DriverContext, FenceDriver, PowerState } from './types.ts'
import { realClock } from '../cloud/http.ts'
import type { CloudOptions } from '../cloud/options.ts'
import { checkProblem } from '../cloud/check.ts'
import { CloudApiError } from '../cloud/errors.ts'
import { tokenProblem, type TokenSource } from '../cloud/token.ts'
import type { PowerApi } from '../cloud/types.ts'

export abstract class CloudFenceDriver implements FenceDriver {
  abstract readonly kind: string
  protected abstract readonly idField: string
  protected abstract serverIdOf(node: Node): number | undefined
  protected abstract tokenSource(): TokenSource
  protected abstract api(): PowerApi
  protected abstract apiStep(action: 'power off' | 'power on', node: Node): string

  constructor(
    protected readonly ctx: DriverContext,
    protected readonly cloud: CloudOptions = {},
  ) {}

  validate(): string[] {
    const out: string[] = []
    this.ctx.pair.nodes.forEach((n) => {
      if (!this.serverIdOf(n)) out.push(`node ${n.name} has no ${this.idField}`)
    })
    const t = tokenProblem(this.tokenSource(), this.cloud.env)
    if (t) out.push(t)
    return out
  }

  /** The provider answers a power-state read for every node: token and server ids work. */
  async check(): Promise<string[]> {
    const out: string[] = []
    for (const n of this.ctx.pair.nodes) {
      const what = `pair ${this.ctx.pair.name} fencing ${n.name}`
      try {
        if ((await this.api().power(this.id(n))) === 'unknown') out.push(`${what}: the ${this.kind} API reports the power state as unknown`)
      } catch (e) {
        out.push(checkProblem(e, this.kind, what))
        // A rejected token or a silent API answers the same for every node: say it once.
        if (!(e instanceof CloudApiError && e.notFound)) break
      }
    }
    return out
  }

  private id(node: Node): number {
    const id = this.serverIdOf(node)
    if (!id) throw new CloudApiError(`node ${node.name} has no ${this.idField}`, { provider: this.kind })
    return id
  }

  /** "unknown" when the API does not answer for now; auth and config errors throw. */
  async status(node: Node): Promise<PowerState> {
    try {
      return await this.api().power(this.id(node))
    } catch (e) {
      if (e instanceof CloudApiError && e.transient) return 'unknown'
      throw e
    }
  }

  /** Reads the power state back until it is `want` (bounded). */
  private async settle(node: Node, want: PowerState): Promise<void> {
    const clock = this.cloud.clock ?? realClock
    const interval = this.cloud.poll?.intervalMs ?? 1000
    const timeout = this.cloud.poll?.timeoutMs ?? 60_000
    let state = await this.api().power(this.id(node))
    for (let waited = 0; state !== want; waited += interval) {
      if (waited >= timeout)
        throw new CloudApiError(
          `${node.name}: still ${state} ${Math.round(waited / 1000)} s after the ${want === 'off' ? 'power-off' : 'power-on'} succeeded`,
          { provider: this.kind, timedOut: true, actionFailed: true },
        )
      await clock.sleep(interval)
      state = await this.api().power(this.id(node))
    }
  }

  async stop(node: Node): Promise<ActionResult> {
    const id = this.id(node)
    if ((await this.api().power(id)) === 'off') return { changed: false, detail: `${node.name} (${this.idField} ${id}) already powered off` }
    await this.api().powerOff(id)
    await this.settle(node, 'off')
    return { changed: true, detail: `${node.name} (${this.idField} ${id}) powered off through the ${this.kind} API` }
  }

  async start(node: Node): Promise<ActionResult> {
    const id = this.id(node)
    if ((await this.api().power(id)) === 'on') return { changed: false, detail: `${node.name} (${this.idField} ${id}) already powered on` }
    await this.api().powerOn(id)
    await this.settle(node, 'on')
    return { changed: true, detail: `${node.name} (${this.idField} ${id}) powered on through the ${this.kind} API` }
  }

  describe(action: 'start' | 'stop', node: Node): string[] {
    return [
      `${node.name}: ${this.apiStep(action === 'stop' ? 'power off' : 'power on', node)}, then read the state back until it is ${action === 'stop' ? 'off' : 'on'}`,
    ]
  }
}
