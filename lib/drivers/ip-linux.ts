// Floating IP held by the node's own kernel: `ip addr` over SSH plus a gratuitous ARP so
// neighbours update their caches at once instead of after their ARP timeout.
import { RemoteError } from '../errors.ts'
import type { FloatingIp, Node } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import type { ActionResult, DriverContext, HoldState, IpDriver } from './types.ts'

const isV6 = (a: string) => a.includes(':')

/** Parses `ip -o addr show dev IF` output: is ADDR configured? */
export function holdsAddress(ipOutput: string, address: string): boolean {
  return ipOutput.split('\n').some((l) => {
    const m = /\binet6?\s+([0-9a-fA-F.:]+)\//.exec(l)
    return !!m && m[1].toLowerCase() === address.toLowerCase()
  })
}

export class LinuxIpDriver implements IpDriver {
  readonly kind = 'linux'
  constructor(readonly fip: FloatingIp, private readonly ctx: DriverContext) {}

  private iface(node: Node): string { return this.fip.interface ?? node.interface ?? 'eth0' }
  private cidr(): string { return `${this.fip.address}/${this.fip.prefix ?? (isV6(this.fip.address) ? 64 : 32)}` }

  validate(): string[] {
    return isV6(this.fip.address) && (this.fip.prefix ?? 64) > 128 ? [`prefix ${this.fip.prefix} too long for IPv6`] : []
  }

  private async probe(node: Node): Promise<HoldState> {
    try {
      const r = await this.ctx.pool.session(this.ctx.pair, node).run(['ip', '-o', 'addr', 'show', 'dev', this.iface(node)])
      return holdsAddress(r.stdout, this.fip.address) ? 'held' : 'free'
    } catch (e) {
      if (e instanceof RemoteError && (e.unreachable || e.timedOut)) return 'unknown'
      throw e
    }
  }

  async status(): Promise<Record<string, HoldState>> {
    const states = await Promise.all(this.ctx.pair.nodes.map((n) => this.probe(n)))
    return Object.fromEntries(this.ctx.pair.nodes.map((n, i) => [n.name, states[i]]))
  }

  private startScript(node: Node): string {
    const dev = this.iface(node)
    const addr = this.fip.address
    if (isV6(addr)) return sh`ip -6 addr add ${this.cidr()} dev ${dev} nodad`
    // Two arping implementations ship in distributions (iputils: -I, Habets: -i); neither reply is
    // expected for an unsolicited announcement, so its exit status carries no meaning here.
    return sh`ip addr add ${this.cidr()} dev ${dev}` + ' && { if arping --help 2>&1 | grep -q Habets; then ' +
      sh`arping -q -U -c 1 -i ${dev} -S ${addr} ${addr}` + '; else ' + sh`arping -q -U -c 1 -I ${dev} ${addr}` + '; fi; } >/dev/null 2>&1; true'
  }

  describe(action: 'start' | 'stop', node: Node): string[] {
    return action === 'start'
      ? [`${node.name}: ${this.startScript(node)}`]
      : [`${node.name}: ${sh`ip addr del ${this.cidr()} dev ${this.iface(node)}`}`]
  }

  async start(node: Node): Promise<ActionResult> {
    const state = await this.probe(node)
    if (state === 'held') return { changed: false, detail: `${this.fip.address} already on ${node.name}` }
    await this.ctx.pool.session(this.ctx.pair, node).run({ script: this.startScript(node) })
    return { changed: true, detail: `${this.fip.address} added on ${node.name}:${this.iface(node)}` }
  }

  async stop(node: Node): Promise<ActionResult> {
    const state = await this.probe(node)
    if (state === 'free') return { changed: false, detail: `${this.fip.address} not on ${node.name}` }
    if (state === 'unknown') throw new RemoteError(`cannot release ${this.fip.address}: node unreachable`, { node: node.name, host: node.address, unreachable: true })
    await this.ctx.pool.session(this.ctx.pair, node).run(['ip', 'addr', 'del', this.cidr(), 'dev', this.iface(node)])
    return { changed: true, detail: `${this.fip.address} removed from ${node.name}` }
  }
}
