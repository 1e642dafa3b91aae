// DigitalOcean API (https://docs.digitalocean.com/reference/api/): reserved IPs and droplet
// power, as the provider-neutral AddressApi and PowerApi. The base URL ends in /v2.
import type { PowerState } from '../drivers/types.ts'
import { waitForAction, type ActionView, type PollOptions } from './actions.ts'
import type { ApiClient, ProviderProfile } from './http.ts'
import type { AddressApi, PowerApi } from './types.ts'

export const DIGITALOCEAN_API_URL = 'https://api.digitalocean.com/v2'
export const DIGITALOCEAN_TOKEN_ENV = ['DIGITALOCEAN_TOKEN', 'DIGITALOCEAN_ACCESS_TOKEN']
/** Where the API is, when the inventory names no apiUrl: the variable DigitalOcean's Pulumi and Terraform providers read. */
export const DIGITALOCEAN_API = { url: DIGITALOCEAN_API_URL, envVar: 'DIGITALOCEAN_API_URL' }

export const digitaloceanProfile: ProviderProfile = {
  name: 'digitalocean',
  // {"id": "unauthorized", "message": "Unable to authenticate you."}
  errorOf: (body) => {
    const b = body as { id?: unknown; message?: unknown } | undefined
    return { code: typeof b?.id === 'string' ? b.id : undefined, message: typeof b?.message === 'string' ? b.message : undefined }
  },
  // A droplet or reserved IP with an action in flight answers 422 "... already has a pending event".
  isBusy: (status, code, message) => status === 423 || status === 409 || (status === 422 && /pending event|in progress|locked/i.test(message ?? '')),
}

interface DAction {
  id: number
  status: 'in-progress' | 'completed' | 'errored'
  type?: string
}

const view = (a: DAction): ActionView => ({
  id: String(a.id),
  state: a.status === 'completed' ? 'success' : a.status === 'errored' ? 'error' : 'running',
  error: a.status === 'errored' ? `${a.type ?? 'action'} errored` : undefined,
})

type Poll = Omit<PollOptions, 'provider' | 'what'>

async function act(client: ApiClient, poll: Poll, path: string, body: unknown, what: string, actionPath: (id: string) => string): Promise<void> {
  const r = await client.post<{ action: DAction }>(path, body)
  await waitForAction(view(r.action), async (id) => view((await client.get<{ action: DAction }>(actionPath(id))).action), {
    ...poll,
    provider: 'digitalocean',
    what,
  })
}

/** A reserved IP is named by its address: DigitalOcean has no separate id for it. */
export class DoReservedIp implements AddressApi {
  readonly provider = 'digitalocean'
  readonly label: string
  private readonly ip: string
  constructor(
    private readonly client: ApiClient,
    address: string,
    private readonly poll: Poll = {},
  ) {
    this.ip = encodeURIComponent(address)
    this.label = `reserved IP ${address}`
  }

  async holder(): Promise<number | null> {
    const r = await this.client.get<{ reserved_ip: { droplet: { id: number } | null } }>(`/reserved_ips/${this.ip}`)
    return r.reserved_ip.droplet?.id ?? null
  }

  private action(body: unknown, what: string): Promise<void> {
    return act(this.client, this.poll, `/reserved_ips/${this.ip}/actions`, body, what, (id) => `/reserved_ips/${this.ip}/actions/${id}`)
  }

  assign(dropletId: number): Promise<void> {
    return this.action({ type: 'assign', droplet_id: dropletId }, `assign ${this.label} to droplet ${dropletId}`)
  }

  unassign(): Promise<void> {
    return this.action({ type: 'unassign' }, `unassign ${this.label}`)
  }
}

export class DoPower implements PowerApi {
  readonly provider = 'digitalocean'
  constructor(
    private readonly client: ApiClient,
    private readonly poll: Poll = {},
  ) {}

  async power(dropletId: number): Promise<PowerState> {
    const r = await this.client.get<{ droplet: { status: string } }>(`/droplets/${dropletId}`)
    // new, active, off, archive
    return r.droplet.status === 'off' || r.droplet.status === 'archive' ? 'off' : 'on'
  }

  private action(dropletId: number, type: string): Promise<void> {
    return act(this.client, this.poll, `/droplets/${dropletId}/actions`, { type }, `${type} droplet ${dropletId}`, (id) => `/actions/${id}`)
  }

  /** power_off is the hard cut; `shutdown` would ask the OS, which a hung node may ignore. */
  powerOff(dropletId: number): Promise<void> {
    return this.action(dropletId, 'power_off')
  }
  powerOn(dropletId: number): Promise<void> {
    return this.action(dropletId, 'power_on')
  }
}
