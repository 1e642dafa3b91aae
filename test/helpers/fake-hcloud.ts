// A loopback Hetzner Cloud API that follows the documented contract for what hapair uses:
//   GET  /v1/floating_ips/{id}                      {"floating_ip": {..., "server": id|null}}
//   POST /v1/floating_ips/{id}/actions/assign       {"server": id} -> 201 {"action": {...}}
//   POST /v1/floating_ips/{id}/actions/unassign     -> 201 {"action": {...}}
//   GET  /v1/actions/{id}                           status running -> success | error
//   GET  /v1/servers/{id}                           {"server": {..., "status": "running"|"off"}}
//   POST /v1/servers/{id}/actions/poweroff|poweron  -> 201 {"action": {...}}
// Errors are {"error": {"code", "message", "details"}}: 401 unauthorized, 404 not_found,
// 423 locked while another action runs on the resource, 429 rate_limit_exceeded.
import { FakeApi, type FakeAction, type Reply, type Req } from './fake-api.ts'

export interface FakeFloatingIp {
  id: number
  ip: string
  type: 'ipv4' | 'ipv6'
  server: number | null
  home_location: string
}
export interface FakeServer {
  id: number
  name: string
  status: 'running' | 'off' | 'starting' | 'stopping'
}

export class FakeHcloud extends FakeApi {
  readonly floatingIps = new Map<number, FakeFloatingIp>()
  readonly servers = new Map<number, FakeServer>()
  protected readonly rateLimitCode = 'rate_limit_exceeded'
  /** Runs as part of a power-off action, before the server reports "off" (a lab test kills the node here). */
  onPowerOff?: (serverId: number) => void | Promise<void>

  constructor(token: string) {
    super(token, '/v1')
  }

  addServer(id: number, name: string, status: FakeServer['status'] = 'running'): this {
    this.servers.set(id, { id, name, status })
    return this
  }
  addFloatingIp(id: number, ip: string, server: number | null): this {
    this.floatingIps.set(id, { id, ip, type: ip.includes(':') ? 'ipv6' : 'ipv4', server, home_location: 'fsn1' })
    return this
  }

  errorBody(code: string, message: string) {
    return { error: { code, message, details: {} } }
  }
  protected busy(resource: string): Reply {
    return { status: 423, body: this.errorBody('locked', `${resource} is locked`) }
  }
  actionBody(a: FakeAction) {
    const [type, id] = a.resource.split('/')
    return {
      id: a.id,
      command: a.kind,
      status: a.state,
      progress: a.state === 'running' ? 50 : 100,
      started: new Date().toISOString(),
      finished: a.state === 'running' ? null : new Date().toISOString(),
      resources: [{ id: Number(id), type }],
      error: a.state === 'error' ? { code: 'action_failed', message: 'Action failed' } : null,
    }
  }

  private action(r: Reply | FakeAction): Reply {
    return 'resource' in r ? { status: 201, body: { action: this.actionBody(r) } } : r
  }

  protected route(r: Req): Reply {
    let m: RegExpExecArray | null
    if ((m = /^\/floating_ips\/(\d+)$/.exec(r.path)) && r.method === 'GET') {
      const f = this.floatingIps.get(Number(m[1]))
      return f
        ? {
            status: 200,
            body: { floating_ip: { ...f, description: null, name: `fip-${f.id}`, blocked: false, dns_ptr: [], labels: {}, protection: { delete: false } } },
          }
        : this.error(404, 'not_found', `floating_ip with ID ${m[1]} not found`)
    }
    if ((m = /^\/floating_ips\/(\d+)\/actions\/(assign|unassign)$/.exec(r.path)) && r.method === 'POST') {
      const f = this.floatingIps.get(Number(m[1]))
      if (!f) return this.error(404, 'not_found', `floating_ip with ID ${m[1]} not found`)
      if (m[2] === 'assign') {
        const server = r.body?.server
        if (typeof server !== 'number') return this.error(400, 'invalid_input', "invalid input in field 'server'")
        if (!this.servers.has(server)) return this.error(404, 'not_found', `server with ID ${server} not found`)
        return this.action(
          this.startAction('assign_floating_ip', `floating_ip/${f.id}`, () => {
            f.server = server
          }),
        )
      }
      return this.action(
        this.startAction('unassign_floating_ip', `floating_ip/${f.id}`, () => {
          f.server = null
        }),
      )
    }
    if ((m = /^\/actions\/(\d+)$/.exec(r.path)) && r.method === 'GET') {
      const a = this.poll(Number(m[1]))
      return a ? { status: 200, body: { action: this.actionBody(a) } } : this.error(404, 'not_found', `action with ID ${m[1]} not found`)
    }
    if ((m = /^\/servers\/(\d+)$/.exec(r.path)) && r.method === 'GET') {
      const s = this.servers.get(Number(m[1]))
      return s ? { status: 200, body: { server: { ...s, public_net: {}, labels: {} } } } : this.error(404, 'not_found', `server with ID ${m[1]} not found`)
    }
    if ((m = /^\/servers\/(\d+)\/actions\/(poweroff|poweron)$/.exec(r.path)) && r.method === 'POST') {
      const s = this.servers.get(Number(m[1]))
      if (!s) return this.error(404, 'not_found', `server with ID ${m[1]} not found`)
      const off = m[2] === 'poweroff'
      return this.action(
        this.startAction(off ? 'stop_server' : 'start_server', `server/${s.id}`, async () => {
          if (off) await this.onPowerOff?.(s.id)
          s.status = off ? 'off' : 'running'
        }),
      )
    }
    return this.error(404, 'not_found', `no route for ${r.method} ${r.path}`)
  }
}

export const startFakeHcloud = (token: string) => new FakeHcloud(token).start()
