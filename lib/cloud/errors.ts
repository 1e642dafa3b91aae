// A failed call to a provider's API. Callers branch on the flags (unauthorized, rateLimited,
// retriesExhausted…), never on the message; the message never carries the API token.
import { HapairError } from '../errors.ts'

export interface CloudApiErrorInit {
  provider: string
  method?: string
  /** Path below the API base URL, e.g. /floating_ips/42/actions/assign. */
  path?: string
  /** HTTP status; undefined when no response came (network error, timeout). */
  status?: number
  /** The provider's error code (Hetzner `error.code`, DigitalOcean `id`). */
  code?: string
  /** How many requests were made for this call. */
  attempts?: number
  retriesExhausted?: boolean
  /** The provider said the resource is busy (when its status code alone does not say so). */
  locked?: boolean
  /** An asynchronous action (assign, power off) ended in error or did not finish in time. */
  actionFailed?: boolean
  timedOut?: boolean
  cause?: unknown
}

export class CloudApiError extends HapairError {
  readonly provider: string
  readonly method?: string
  readonly path?: string
  readonly status?: number
  readonly code?: string
  readonly attempts: number
  /** 401: the token is wrong or revoked; retrying cannot help. */
  readonly unauthorized: boolean
  /** 403: the token lacks a permission (e.g. read-only). */
  readonly forbidden: boolean
  readonly notFound: boolean
  readonly rateLimited: boolean
  /** The resource is busy with another action (Hetzner `locked`, DigitalOcean "pending event"). */
  readonly locked: boolean
  readonly retriesExhausted: boolean
  readonly actionFailed: boolean
  readonly timedOut: boolean
  /** No HTTP answer at all: DNS, refused connection, reset, timeout. */
  readonly network: boolean

  constructor(reason: string, init: CloudApiErrorInit) {
    const where = init.method && init.path ? ` ${init.method} ${init.path}` : ''
    super(`${init.provider} API${where}: ${reason}`, { cause: init.cause })
    this.provider = init.provider
    this.method = init.method
    this.path = init.path
    this.status = init.status
    this.code = init.code
    this.attempts = init.attempts ?? 1
    this.unauthorized = init.status === 401
    this.forbidden = init.status === 403
    this.notFound = init.status === 404
    this.rateLimited = init.status === 429
    this.locked = init.locked || init.status === 423 || init.status === 409 || init.code === 'locked' || init.code === 'conflict'
    this.retriesExhausted = init.retriesExhausted ?? false
    this.actionFailed = init.actionFailed ?? false
    this.timedOut = init.timedOut ?? false
    this.network = init.status === undefined && !init.actionFailed
  }

  /** Transient: the API may well answer differently in a minute (the probe reports `unknown`). */
  get transient(): boolean {
    return this.network || this.timedOut || this.rateLimited || this.locked || (this.status !== undefined && this.status >= 500)
  }
}
