// Fencing a DigitalOcean droplet: a hard power_off through the API.
import type { Node } from '../inventory/schema.ts'
import { CloudFenceDriver } from './fence-cloud.ts'
import { DoPower, DIGITALOCEAN_API, DIGITALOCEAN_TOKEN_ENV, digitaloceanProfile } from '../cloud/digitalocean.ts'
import { apiBase, lazyClient, pollOf, type CloudOptions } from '../cloud/options.ts'
import type { TokenSource } from '../cloud/token.ts'
import type { PowerApi } from '../cloud/types.ts'
import type { DriverContext } from './types.ts'

export class DigitalOceanFenceDriver extends CloudFenceDriver {
  readonly kind = 'digitalocean'
  protected readonly idField = 'digitalocean.dropletId'
  private readonly power: () => PowerApi

  constructor(ctx: DriverContext, opts: CloudOptions = {}) {
    super(ctx, opts)
    const client = lazyClient(digitaloceanProfile, apiBase(ctx.pair.fencing?.digitalocean?.apiUrl, DIGITALOCEAN_API, opts.env), this.tokenSource(), opts)
    let api: PowerApi | undefined
    this.power = () => (api ??= new DoPower(client(), pollOf(opts)))
  }

  protected serverIdOf(node: Node) {
    return node.digitalocean?.dropletId
  }
  protected tokenSource(): TokenSource {
    return {
      envVars: DIGITALOCEAN_TOKEN_ENV,
      tokenFile: this.ctx.pair.fencing?.digitalocean?.tokenFile,
      dir: this.ctx.inv.dir,
      what: `pair ${this.ctx.pair.name} fencing`,
    }
  }
  protected api(): PowerApi {
    return this.power()
  }
  protected apiStep(action: 'power off' | 'power on', node: Node): string {
    return `digitalocean API: POST /droplets/${node.digitalocean?.dropletId}/actions {"type":"${action === 'power off' ? 'power_off' : 'power_on'}"}, poll the action until completed`
  }
}
