// What the fake provider APIs share: a loopback HTTP server that checks the bearer token,
// sends rate-limit headers on every answer, serves injected failures (429, 423, 5xx…) first,
// and runs asynchronous actions that stay "running" for a few polls before they finish.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Req {
  method: string
  path: string
  body: any
  auth?: string
}
export interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}
/** A canned answer served instead of the real one to the next matching request; a body function sees the request. */
export interface Injected extends Reply {
  when?: (r: Req) => boolean
  body?: unknown | ((r: Req) => unknown)
}

export interface FakeAction {
  id: number
  kind: string
  /** Resource the action locks while running, e.g. "floating_ip/42". */
  resource: string
  state: 'running' | 'success' | 'error'
  pollsLeft: number
  /** Applied when the action succeeds: the change is visible only then, as with the real API. An async effect keeps the action running until it settles. */
  effect: () => void | Promise<void>
}

export abstract class FakeApi {
  url = ''
  readonly requests: Req[] = []
  private injected: Injected[] = []
  readonly actions = new Map<number, FakeAction>()
  private nextAction = 9000
  /** Polls an action answers "running" before it finishes. */
  actionPolls = 2
  /** How many of the next actions end in error. */
  failActions = 0
  /** Error bodies quote the Authorization header they got, as a careless proxy would: the client must never repeat it. */
  echoAuth = false
  readonly rate = { limit: 3600, remaining: 3600 }
  private server?: http.Server

  constructor(
    readonly token: string,
    readonly prefix: string,
  ) {}

  protected abstract route(r: Req): Reply
  /** The provider's error body. */
  abstract errorBody(code: string, message: string): unknown
  /** The provider's answer when a resource is busy with another action. */
  protected abstract busy(resource: string): Reply
  abstract actionBody(a: FakeAction): unknown

  inject(...r: Injected[]): this {
    this.injected.push(...r)
    return this
  }
  /** Drops injected answers no request used, so they never reach the next test. */
  clearInjected(): this {
    this.injected.length = 0
    return this
  }

  /** The next n requests get 429 with the provider's rate-limit headers; the limit lifts in resetInSec. */
  rateLimit(n: number, resetInSec = 1): this {
    const reset = String(Math.floor(Date.now() / 1000) + resetInSec)
    for (let i = 0; i < n; i++) {
      this.inject({
        status: 429,
        body: this.errorBody(this.rateLimitCode, 'API rate limit exceeded'),
        headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': reset },
      })
    }
    return this
  }
  protected abstract readonly rateLimitCode: string

  count(method: string, pathRe: RegExp): number {
    return this.requests.filter((r) => r.method === method && pathRe.test(r.path)).length
  }

  protected startAction(kind: string, resource: string, effect: () => void | Promise<void>): Reply | FakeAction {
    const running = [...this.actions.values()].find((a) => a.resource === resource && a.state === 'running')
    if (running) return this.busy(resource)
    const a: FakeAction = { id: this.nextAction++, kind, resource, state: 'running', pollsLeft: this.actionPolls, effect }
    this.actions.set(a.id, a)
    if (a.pollsLeft <= 0) this.finish(a)
    return a
  }

  private finish(a: FakeAction): void {
    if (this.failActions > 0) {
      this.failActions--
      a.state = 'error'
      return
    }
    const done = a.effect()
    if (done instanceof Promise) {
      a.pollsLeft = Infinity
      done.then(
        () => {
          a.state = 'success'
        },
        () => {
          a.state = 'error'
        },
      )
    } else a.state = 'success'
  }

  /** One poll of an action: it advances toward its end. */
  protected poll(id: number): FakeAction | undefined {
    const a = this.actions.get(id)
    if (a && a.state === 'running' && --a.pollsLeft <= 0) this.finish(a)
    return a
  }

  protected error(status: number, code: string, message: string, r?: Req): Reply {
    return { status, body: this.errorBody(code, this.echoAuth && r ? `${message} (request had Authorization: ${r.auth})` : message) }
  }

  private handle(r: Req): Reply {
    if (r.auth !== `Bearer ${this.token}`) return this.error(401, 'unauthorized', 'unable to authenticate', r)
    const i = this.injected.findIndex((x) => !x.when || x.when(r))
    if (i >= 0) {
      const [x] = this.injected.splice(i, 1)
      return { ...x, body: typeof x.body === 'function' ? x.body(r) : x.body }
    }
    if (this.rate.remaining <= 0)
      return { ...this.error(429, this.rateLimitCode, 'API rate limit exceeded'), headers: { 'RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 1) } }
    if (!r.path.startsWith(this.prefix + '/')) return this.error(404, 'not_found', 'no such path')
    return this.route({ ...r, path: r.path.slice(this.prefix.length) })
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: any
        try {
          body = text ? JSON.parse(text) : undefined
        } catch {
          body = { unparsable: text }
        }
        const r: Req = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0], body, auth: req.headers.authorization }
        this.requests.push(r)
        let reply: Reply
        try {
          reply = this.handle(r)
        } catch (e) {
          reply = this.error(500, 'service_error', String(e))
        }
        if (reply.status !== 429) this.rate.remaining = Math.max(0, this.rate.remaining - 1)
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'RateLimit-Limit': String(this.rate.limit),
          'RateLimit-Remaining': String(this.rate.remaining),
          'RateLimit-Reset': String(Math.floor(Date.now() / 1000) + (this.rate.limit - this.rate.remaining)),
          ...reply.headers,
        }
        res.writeHead(reply.status, headers)
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body))
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.prefix}`
    return this
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections?.()
      this.server ? this.server.close(() => resolve()) : resolve()
    })
  }
}
