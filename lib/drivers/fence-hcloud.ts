// Fencing a Hetzner Cloud server: a hard power-off through the API.
import type { Node } from '../inventory/schema.ts'
import { CloudFenceDriver } from './fence-cloud.ts'
import { HcloudPower, HCLOUD_API, HCLOUD_TOKEN_ENV, hcloudProfile } from '../cloud/hcloud.ts'
import { apiBase, lazyClient, pollOf, type CloudOptions } from '../cloud/options.ts'
import type { TokenSource } from '../cloud/token.ts'
import type { PowerApi } from '../cloud/types.ts'
import type { DriverContext } from './types.ts'

export class HcloudFenceDriver extends CloudFenceDriver {
  readonly kind = 'hcloud'
  protected readonly idField = 'hcloud.serverId'
  private readonly power: () => PowerApi

  constructor(ctx: DriverContext, opts: CloudOptions = {}) {
    super(ctx, opts)
    const client = lazyClient(hcloudProfile, apiBase(ctx.pair.fencing?.hcloud?.apiUrl, HCLOUD_API, opts.env), this.tokenSource(), opts)
    let api: PowerApi | undefined
    this.power = () => (api ??= new HcloudPower(client(), pollOf(opts)))
  }

  protected serverIdOf(node: Node) {
    return node.hcloud?.serverId
  }
  protected tokenSource(): TokenSource {
    return { envVars: HCLOUD_TOKEN_ENV, tokenFile: this.ctx.pair.fencing?.hcloud?.tokenFile, dir: this.ctx.inv.dir, what: `pair ${this.ctx.pair.name} fencing` }
  }
  protected api(): PowerApi {
    return this.power()
  }
  protected apiStep(action: 'power off' | 'power on', node: Node): string {
    return `hcloud API: POST /servers/${node.hcloud?.serverId}/actions/${action === 'power off' ? 'poweroff' : 'poweron'}, poll the action until success`
  }
}
