// A loopback DigitalOcean API that follows the documented contract for what hapair uses:
//   GET  /v2/reserved_ips/{ip}                  {"reserved_ip": {"ip", "droplet": {...}|null, "region", "locked"}}
//   POST /v2/reserved_ips/{ip}/actions          {"type":"assign","droplet_id":N} | {"type":"unassign"} -> 201 {"action"}
//   GET  /v2/reserved_ips/{ip}/actions/{id}     and GET /v2/actions/{id}: in-progress -> completed | errored
//   GET  /v2/droplets/{id}                      {"droplet": {..., "status": "active"|"off"}}
//   POST /v2/droplets/{id}/actions              {"type":"power_off"|"power_on"} -> 201 {"action"}
// Errors are {"id", "message"}: 401 unauthorized, 404 not_found, 422 unprocessable_entity
// ("... already has a pending event") while an action runs, 429 too_many_requests.
import { FakeApi, type FakeAction, type Reply, type Req } from './fake-api.ts'

export interface FakeDroplet {
  id: number
  name: string
  status: 'new' | 'active' | 'off'
}
export interface FakeReservedIp {
  ip: string
  droplet: number | null
  region: string
}

export class FakeDigitalOcean extends FakeApi {
  readonly reservedIps = new Map<string, FakeReservedIp>()
  readonly droplets = new Map<number, FakeDroplet>()
  protected readonly rateLimitCode = 'too_many_requests'
  /** Runs as part of a power_off action, before the droplet reports "off". */
  onPowerOff?: (dropletId: number) => void | Promise<void>

  constructor(token: string) {
    super(token, '/v2')
    this.rate.limit = this.rate.remaining = 5000
  }

  addDroplet(id: number, name: string, status: FakeDroplet['status'] = 'active'): this {
    this.droplets.set(id, { id, name, status })
    return this
  }
  addReservedIp(ip: string, droplet: number | null, region = 'fra1'): this {
    this.reservedIps.set(ip, { ip, droplet, region })
    return this
  }

  errorBody(code: string, message: string) {
    return { id: code, message, request_id: 'a3b2c1d0-fake' }
  }
  protected busy(resource: string): Reply {
    return {
      status: 422,
      body: this.errorBody('unprocessable_entity', `${resource.startsWith('droplet') ? 'Droplet' : 'Reserved IP'} already has a pending event.`),
    }
  }
  actionBody(a: FakeAction) {
    const [type, id] = a.resource.split('/')
    return {
      id: a.id,
      type: a.kind,
      status: a.state === 'running' ? 'in-progress' : a.state === 'success' ? 'completed' : 'errored',
      started_at: new Date().toISOString(),
      completed_at: a.state === 'running' ? null : new Date().toISOString(),
      resource_id: type === 'droplet' ? Number(id) : 0,
      resource_type: type,
      region_slug: 'fra1',
    }
  }

  private action(r: Reply | FakeAction): Reply {
    return 'resource' in r ? { status: 201, body: { action: this.actionBody(r) } } : r
  }

  private dropletBody(id: number) {
    const d = this.droplets.get(id)!
    return { ...d, locked: false, networks: { v4: [] }, region: { slug: 'fra1' } }
  }

  protected route(r: Req): Reply {
    let m: RegExpExecArray | null
    if ((m = /^\/reserved_ips\/([^/]+)$/.exec(r.path)) && r.method === 'GET') {
      const f = this.reservedIps.get(decodeURIComponent(m[1]))
      if (!f) return this.error(404, 'not_found', 'The resource you were accessing could not be found.')
      return {
        status: 200,
        body: {
          reserved_ip: {
            ip: f.ip,
            droplet: f.droplet == null ? null : this.dropletBody(f.droplet),
            region: { slug: f.region },
            locked: false,
            project_id: 'p-1',
          },
        },
      }
    }
    if ((m = /^\/reserved_ips\/([^/]+)\/actions$/.exec(r.path)) && r.method === 'POST') {
      const f = this.reservedIps.get(decodeURIComponent(m[1]))
      if (!f) return this.error(404, 'not_found', 'The resource you were accessing could not be found.')
      if (r.body?.type === 'assign') {
        const d = r.body.droplet_id
        if (typeof d !== 'number' || !this.droplets.has(d)) return this.error(422, 'unprocessable_entity', 'Droplet_id is invalid')
        return this.action(
          this.startAction('assign_ip', `reserved_ip/${f.ip}`, () => {
            f.droplet = d
          }),
        )
      }
      if (r.body?.type === 'unassign')
        return this.action(
          this.startAction('unassign_ip', `reserved_ip/${f.ip}`, () => {
            f.droplet = null
          }),
        )
      return this.error(422, 'unprocessable_entity', 'type is not a valid action type')
    }
    if (((m = /^\/reserved_ips\/[^/]+\/actions\/(\d+)$/.exec(r.path)) || (m = /^\/actions\/(\d+)$/.exec(r.path))) && r.method === 'GET') {
      const a = this.poll(Number(m[1]))
      return a ? { status: 200, body: { action: this.actionBody(a) } } : this.error(404, 'not_found', 'The resource you were accessing could not be found.')
    }
    if ((m = /^\/droplets\/(\d+)$/.exec(r.path)) && r.method === 'GET') {
      return this.droplets.has(Number(m[1]))
        ? { status: 200, body: { droplet: this.dropletBody(Number(m[1])) } }
        : this.error(404, 'not_found', 'The resource you were accessing could not be found.')
    }
    if ((m = /^\/droplets\/(\d+)\/actions$/.exec(r.path)) && r.method === 'POST') {
      const d = this.droplets.get(Number(m[1]))
      if (!d) return this.error(404, 'not_found', 'The resource you were accessing could not be found.')
      const type = r.body?.type
      if (type !== 'power_off' && type !== 'power_on') return this.error(422, 'unprocessable_entity', 'type is not a valid action type')
      return this.action(
        this.startAction(type, `droplet/${d.id}`, async () => {
          if (type === 'power_off') await this.onPowerOff?.(d.id)
          d.status = type === 'power_off' ? 'off' : 'active'
        }),
      )
    }
    return this.error(404, 'not_found', `no route for ${r.method} ${r.path}`)
  }
}

export const startFakeDigitalOcean = (token: string) => new FakeDigitalOcean(token).start()
