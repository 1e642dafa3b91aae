// Hetzner Cloud floating IP: the provider routes it to one server, and that server's kernel
// must hold it too (Hetzner does not configure it for you), so both sides are moved.
import type { FloatingIp, Node } from '../inventory/schema.ts'
import { HcloudFloatingIp, HCLOUD_API, HCLOUD_TOKEN_ENV, hcloudProfile } from '../cloud/hcloud.ts'
import { CloudIpDriver } from './ip-cloud.ts'
import { apiBase, lazyClient, pollOf, type CloudOptions } from '../cloud/options.ts'
import type { TokenSource } from '../cloud/token.ts'
import type { AddressApi } from '../cloud/types.ts'
import type { DriverContext } from './types.ts'

export class HcloudIpDriver extends CloudIpDriver {
  readonly kind = 'hcloud'
  protected readonly osHolds = true
  protected readonly idField = 'hcloud.serverId'
  private readonly address: () => AddressApi

  constructor(fip: FloatingIp, ctx: DriverContext, opts: CloudOptions = {}) {
    super(fip, ctx, opts)
    const client = lazyClient(hcloudProfile, apiBase(fip.hcloud?.apiUrl, HCLOUD_API, opts.env), this.tokenSource(), opts)
    let api: AddressApi | undefined
    this.address = () => (api ??= new HcloudFloatingIp(client(), fip.hcloud!.floatingIpId, fip.address, pollOf(opts)))
  }

  protected serverIdOf(node: Node) {
    return node.hcloud?.serverId
  }
  protected tokenSource(): TokenSource {
    return { envVars: HCLOUD_TOKEN_ENV, tokenFile: this.fip.hcloud?.tokenFile, dir: this.ctx.inv.dir, what: `floating IP ${this.fip.address}` }
  }
  protected providerProblems(): string[] {
    return this.fip.hcloud?.floatingIpId ? [] : ['no hcloud.floatingIpId']
  }
  protected api(): AddressApi {
    return this.address()
  }
  protected apiSteps(action: 'assign' | 'unassign', node: Node): string {
    const id = this.fip.hcloud?.floatingIpId
    return action === 'assign'
      ? `hcloud API: POST /floating_ips/${id}/actions/assign {"server": ${node.hcloud?.serverId}}, poll the action until success`
      : `hcloud API: POST /floating_ips/${id}/actions/unassign, poll the action until success`
  }
}
