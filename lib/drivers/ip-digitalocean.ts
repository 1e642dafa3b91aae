// DigitalOcean reserved IP. DigitalOcean delivers it to the droplet's anchor address (1:1 NAT),
// so the droplet's kernel must not be given the address: only the provider's assignment moves.
import type { FloatingIp, Node } from '../inventory/schema.ts'
import { DoReservedIp, DIGITALOCEAN_API, DIGITALOCEAN_TOKEN_ENV, digitaloceanProfile } from '../cloud/digitalocean.ts'
import { CloudIpDriver } from './ip-cloud.ts'
import { apiBase, lazyClient, pollOf, type CloudOptions } from '../cloud/options.ts'
import type { TokenSource } from '../cloud/token.ts'
import type { AddressApi } from '../cloud/types.ts'
import type { DriverContext } from './types.ts'

export class DigitalOceanIpDriver extends CloudIpDriver {
  readonly kind = 'digitalocean'
  protected readonly osHolds = false
  protected readonly idField = 'digitalocean.dropletId'
  private readonly address: () => AddressApi

  constructor(fip: FloatingIp, ctx: DriverContext, opts: CloudOptions = {}) {
    super(fip, ctx, opts)
    const client = lazyClient(digitaloceanProfile, apiBase(fip.digitalocean?.apiUrl, DIGITALOCEAN_API, opts.env), this.tokenSource(), opts)
    let api: AddressApi | undefined
    this.address = () => (api ??= new DoReservedIp(client(), fip.address, pollOf(opts)))
  }

  protected serverIdOf(node: Node) {
    return node.digitalocean?.dropletId
  }
  protected tokenSource(): TokenSource {
    return { envVars: DIGITALOCEAN_TOKEN_ENV, tokenFile: this.fip.digitalocean?.tokenFile, dir: this.ctx.inv.dir, what: `reserved IP ${this.fip.address}` }
  }
  protected providerProblems(): string[] {
    return this.fip.address.includes(':') ? ['reserved IPv6 addresses are not supported by this driver (IPv4 only)'] : []
  }
  protected api(): AddressApi {
    return this.address()
  }
  protected apiSteps(action: 'assign' | 'unassign', node: Node): string {
    return action === 'assign'
      ? `digitalocean API: POST /reserved_ips/${this.fip.address}/actions {"type":"assign","droplet_id":${node.digitalocean?.dropletId}}, poll the action until completed`
      : `digitalocean API: POST /reserved_ips/${this.fip.address}/actions {"type":"unassign"}, poll the action until completed`
  }
}
