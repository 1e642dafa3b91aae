// A floating IP that a provider routes (Hetzner floating IP, DigitalOcean reserved IP). The
// provider's assignment is the truth for who holds it; where the provider also needs the
// server's kernel to hold it (Hetzner), the node side is the linux driver, the same code the
// lab runs, so "the new server's OS holds it and the old one's no longer does" is tested there.
import { RemoteError } from '../errors.ts'
import type { FloatingIp, Node } from '../inventory/schema.ts'
import { LinuxIpDriver } from './ip-linux.ts'
import type { ActionResult, DriverContext, HoldState, IpDriver } from './types.ts'
import { canCall } from '../cloud/check.ts'
import { CloudApiError } from '../cloud/errors.ts'
import { tokenProblem, type TokenSource } from '../cloud/token.ts'
import type { AddressApi } from '../cloud/types.ts'
import type { CloudOptions } from '../cloud/options.ts'

export interface CloudIpProbe {
  /** Per node, from the provider's assignment: the truth for `held`. */
  api: Record<string, HoldState>
  /** The server the provider routes to; null: unassigned; undefined: the API did not answer. */
  holder: number | null | undefined
  /** Per node, what its kernel says; only for providers that need the OS to hold the address. */
  os?: Record<string, HoldState>
  /** Whether the kernels agree with the provider (true when the OS side does not apply). */
  agrees: boolean
  /** One line per disagreement or oddity. */
  problems: string[]
}

// Fenced, down, or not the host we pinned: we cannot change its kernel, and the provider routes elsewhere.
const unreachable = (e: unknown) => e instanceof RemoteError && e.notAsked

export abstract class CloudIpDriver implements IpDriver {
  abstract readonly kind: string
  /** Does the server's own kernel have to hold the address? */
  protected abstract readonly osHolds: boolean
  /** "hcloud.serverId", for messages. */
  protected abstract readonly idField: string
  protected abstract serverIdOf(node: Node): number | undefined
  protected abstract tokenSource(): TokenSource
  protected abstract providerProblems(): string[]
  /** The provider's view of this address (built lazily: it needs the token). */
  protected abstract api(): AddressApi
  protected abstract apiSteps(action: 'assign' | 'unassign', node: Node): string

  private linux?: LinuxIpDriver
  constructor(
    readonly fip: FloatingIp,
    protected readonly ctx: DriverContext,
    protected readonly cloud: CloudOptions = {},
  ) {}

  protected get os(): LinuxIpDriver {
    this.linux ??= new LinuxIpDriver(this.fip, this.ctx)
    return this.linux
  }

  validate(): string[] {
    const out = [...this.providerProblems()]
    this.ctx.pair.nodes.forEach((n) => {
      if (!this.serverIdOf(n)) out.push(`node ${n.name} has no ${this.idField}`)
    })
    const t = tokenProblem(this.tokenSource(), this.cloud.env)
    if (t) out.push(t)
    if (this.osHolds) out.push(...this.os.validate())
    return out
  }

  /** The provider answers a read of this address with the token: the credentials and the id work. */
  check(): Promise<string[]> {
    return canCall(this.kind, this.fip.address, () => this.api().holder())
  }

  private nodeOf(serverId: number | null | undefined): Node | undefined {
    return serverId == null ? undefined : this.ctx.pair.nodes.find((n) => this.serverIdOf(n) === serverId)
  }

  /** The provider's holder; undefined when the API is down for now (auth and config errors throw). */
  private async holder(): Promise<number | null | undefined> {
    try {
      return await this.api().holder()
    } catch (e) {
      if (e instanceof CloudApiError && e.transient) return undefined
      throw e
    }
  }

  async probe(): Promise<CloudIpProbe> {
    const [holder, os] = await Promise.all([this.holder(), this.osHolds ? this.os.status() : Promise.resolve(undefined)])
    const api = Object.fromEntries(
      this.ctx.pair.nodes.map((n) => [n.name, holder === undefined ? 'unknown' : this.serverIdOf(n) === holder ? 'held' : 'free']),
    ) as Record<string, HoldState>
    const problems: string[] = []
    if (holder === undefined) problems.push(`${this.fip.address}: the ${this.kind} API did not answer: assignment unknown`)
    else if (holder !== null && !this.nodeOf(holder))
      problems.push(`${this.fip.address}: assigned to server ${holder}, which is no node of pair ${this.ctx.pair.name}`)
    let agrees = true
    if (os && holder !== undefined) {
      for (const n of this.ctx.pair.nodes) {
        if (os[n.name] === 'unknown') problems.push(`${n.name}: unreachable, cannot tell whether its kernel holds ${this.fip.address}`)
        else if (os[n.name] !== api[n.name]) {
          agrees = false
          problems.push(
            api[n.name] === 'held'
              ? `${n.name}: the provider routes ${this.fip.address} here but the kernel does not hold it (traffic is dropped)`
              : `${n.name}: the kernel holds ${this.fip.address} but the provider routes it elsewhere`,
          )
        }
      }
    }
    return { api, holder, os, agrees, problems }
  }

  /** The provider's assignment, per node. See probe() for whether the kernels agree. */
  async status(): Promise<Record<string, HoldState>> {
    return (await this.probe()).api
  }

  async start(node: Node): Promise<ActionResult> {
    const id = this.serverIdOf(node)!
    const done: string[] = []
    // Ask the provider first: a rejected token or a wrong id fails here, before anything changed.
    const before = await this.api().holder()
    // Then the kernel: the provider routes the address the moment the action succeeds, and a
    // server that does not hold it yet would drop that traffic. Holding it before the route
    // arrives is harmless: the provider sends nothing there until then.
    if (this.osHolds) {
      const r = await this.os.start(node)
      if (r.changed) done.push(r.detail)
    }
    if (before !== id) {
      await this.api().assign(id)
      const from = this.nodeOf(before)
      done.push(`${this.api().label} assigned to ${node.name} (server ${id})${before == null ? '' : ` from ${from ? from.name : `server ${before}`}`}`)
    }
    if (this.osHolds) {
      for (const other of this.ctx.pair.nodes.filter((n) => n.name !== node.name)) {
        try {
          const r = await this.os.stop(other)
          if (r.changed) done.push(r.detail)
        } catch (e) {
          if (!unreachable(e)) throw e
          // Fenced or down: nothing is routed there any more, and a powered-off kernel forgets the address.
          done.push(`${other.name} unreachable: its kernel may still hold ${this.fip.address} (harmless: the provider routes it to ${node.name})`)
        }
      }
    }
    return done.length ? { changed: true, detail: done.join('; ') } : { changed: false, detail: `${this.fip.address} already on ${node.name}` }
  }

  async stop(node: Node): Promise<ActionResult> {
    const id = this.serverIdOf(node)!
    const done: string[] = []
    if ((await this.api().holder()) === id) {
      await this.api().unassign()
      done.push(`${this.api().label} unassigned from ${node.name} (server ${id})`)
    }
    if (this.osHolds) {
      try {
        const r = await this.os.stop(node)
        if (r.changed) done.push(r.detail)
      } catch (e) {
        if (!unreachable(e)) throw e
        done.push(`${node.name} unreachable: its kernel may still hold ${this.fip.address} (harmless once unassigned)`)
      }
    }
    return done.length ? { changed: true, detail: done.join('; ') } : { changed: false, detail: `${this.fip.address} not on ${node.name}` }
  }

  describe(action: 'start' | 'stop', node: Node): string[] {
    const others = this.ctx.pair.nodes.filter((n) => n.name !== node.name)
    if (action === 'start') {
      return [
        ...(this.osHolds ? this.os.describe('start', node) : []),
        `${node.name}: ${this.apiSteps('assign', node)} (unless already assigned)`,
        ...(this.osHolds ? others.flatMap((o) => this.os.describe('stop', o).map((l) => `${l} (if it holds it and answers)`)) : []),
      ]
    }
    return [`${node.name}: ${this.apiSteps('unassign', node)} (if assigned to it)`, ...(this.osHolds ? this.os.describe('stop', node) : [])]
  }
}
