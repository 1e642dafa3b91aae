// Hetzner Cloud API (https://docs.hetzner.cloud): floating IPs and server power, as the
// provider-neutral AddressApi and PowerApi. Paths are relative to the base URL, which ends in /v1.
import type { PowerState } from '../drivers/types.ts'
import { waitForAction, type ActionView, type PollOptions } from './actions.ts'
import type { ApiClient, ProviderProfile } from './http.ts'
import type { AddressApi, PowerApi } from './types.ts'

export const HCLOUD_API_URL = 'https://api.hetzner.cloud/v1'
export const HCLOUD_TOKEN_ENV = ['HCLOUD_TOKEN']
/** Where the API is, when the inventory names no apiUrl: the variable the hcloud CLI and the Pulumi provider read. */
export const HCLOUD_API = { url: HCLOUD_API_URL, envVar: 'HCLOUD_ENDPOINT' }

export const hcloudProfile: ProviderProfile = {
  name: 'hcloud',
  // {"error": {"code": "locked", "message": "...", "details": {}}}
  errorOf: (body) => {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
    return { code: typeof e?.code === 'string' ? e.code : undefined, message: typeof e?.message === 'string' ? e.message : undefined }
  },
  // `locked` (423): another action runs on the resource; `conflict` (409): it changed meanwhile.
  isBusy: (status, code) => status === 423 || status === 409 || code === 'locked' || code === 'conflict',
}

interface HAction {
  id: number
  status: 'running' | 'success' | 'error'
  error?: { code?: string; message?: string } | null
}

const view = (a: HAction): ActionView => ({
  id: String(a.id),
  state: a.status,
  error: a.error ? `${a.error.code ?? 'error'}: ${a.error.message ?? ''}`.trim() : undefined,
})

type Poll = Omit<PollOptions, 'provider' | 'what'>

class HcloudActions {
  constructor(
    protected readonly client: ApiClient,
    protected readonly poll: Poll,
  ) {}
  protected async act(path: string, body: unknown, what: string): Promise<void> {
    const r = await this.client.post<{ action: HAction }>(path, body)
    await waitForAction(view(r.action), async (id) => view((await this.client.get<{ action: HAction }>(`/actions/${id}`)).action), {
      ...this.poll,
      provider: 'hcloud',
      what,
    })
  }
}

export class HcloudFloatingIp extends HcloudActions implements AddressApi {
  readonly provider = 'hcloud'
  readonly label: string
  constructor(
    client: ApiClient,
    private readonly id: number,
    address: string,
    poll: Poll = {},
  ) {
    super(client, poll)
    this.label = `floating IP ${id} (${address})`
  }

  async holder(): Promise<number | null> {
    const r = await this.client.get<{ floating_ip: { server: number | null } }>(`/floating_ips/${this.id}`)
    return r.floating_ip.server ?? null
  }

  assign(serverId: number): Promise<void> {
    return this.act(`/floating_ips/${this.id}/actions/assign`, { server: serverId }, `assign ${this.label} to server ${serverId}`)
  }

  unassign(): Promise<void> {
    return this.act(`/floating_ips/${this.id}/actions/unassign`, undefined, `unassign ${this.label}`)
  }
}

export class HcloudPower extends HcloudActions implements PowerApi {
  readonly provider = 'hcloud'

  async power(serverId: number): Promise<PowerState> {
    const r = await this.client.get<{ server: { status: string } }>(`/servers/${serverId}`)
    // running, initializing, starting, stopping, off, deleting, migrating, rebuilding, unknown:
    // only "off" is fenced; "stopping" still runs and may still write.
    switch (r.server.status) {
      case 'off':
        return 'off'
      case 'unknown':
        return 'unknown'
      default:
        return 'on'
    }
  }

  powerOff(serverId: number): Promise<void> {
    return this.act(`/servers/${serverId}/actions/poweroff`, undefined, `power off server ${serverId}`)
  }

  powerOn(serverId: number): Promise<void> {
    return this.act(`/servers/${serverId}/actions/poweron`, undefined, `power on server ${serverId}`)
  }
}
