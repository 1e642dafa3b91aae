// A small JSON client for provider APIs. What every provider shares: bearer token, bounded
// retries with backoff on rate limiting (429, honouring Retry-After / RateLimit-Reset), on a
// resource busy with another action, on 5xx and on network errors; 401/403 fail at once; and
// no message, log line or error ever carries the token.
import { CloudApiError } from './errors.ts'
import { redact } from './token.ts'

export interface RetryPolicy {
  /** Requests per call, the first included. */
  maxAttempts: number
  /** First backoff; doubles per attempt (no jitter: one controller, not a thundering herd). */
  baseDelayMs: number
  /** Longest single wait, even when RateLimit-Reset names a later time (Hetzner refills one request a second). */
  maxDelayMs: number
  /** Total waiting per call; a rate limit resetting later than that fails at once instead of hanging a failover. */
  budgetMs: number
  requestTimeoutMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, budgetMs: 120_000, requestTimeoutMs: 15_000 }

/** Injected so tests neither sleep for real nor depend on the wall clock. */
export interface Clock {
  sleep(ms: number): Promise<void>
  /** Milliseconds since the epoch (RateLimit-Reset is an epoch time). */
  now(): number
}
export const realClock: Clock = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)), now: () => Date.now() }

/** How one provider reports errors. */
export interface ProviderProfile {
  name: string
  /** The provider's error code and message from an error body. */
  errorOf(body: unknown): { code?: string; message?: string }
  /** The resource is busy with another action: worth retrying. */
  isBusy(status: number, code?: string, message?: string): boolean
}

export interface ApiClientOptions {
  profile: ProviderProfile
  /** e.g. https://api.hetzner.cloud/v1 */
  baseUrl: string
  token: string
  /** Where the token came from, for the 401 message: "HCLOUD_TOKEN" or "tokenFile /etc/…". */
  tokenHint?: string
  retry?: Partial<RetryPolicy>
  clock?: Clock
  /** Retry notices (already redacted). */
  log?: (line: string) => void
  fetch?: typeof fetch
}

const short = (s: string, n = 200) => (s.length > n ? s.slice(0, n - 3) + '...' : s)

/** Seconds until the limit lifts, from Retry-After (seconds or HTTP date) or RateLimit-Reset (epoch seconds, or delta seconds). */
export function rateLimitDelayMs(headers: Headers, nowMs: number): number | undefined {
  const ra = headers.get('retry-after')
  if (ra) {
    const secs = Number(ra)
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000)
    const at = Date.parse(ra)
    if (Number.isFinite(at)) return Math.max(0, at - nowMs)
  }
  const reset = Number(headers.get('ratelimit-reset'))
  if (headers.get('ratelimit-reset') && Number.isFinite(reset)) {
    // Hetzner and DigitalOcean send an epoch time; the IETF draft sends seconds from now.
    return reset > 1e9 ? Math.max(0, reset * 1000 - nowMs) : reset * 1000
  }
  return undefined
}

export class ApiClient {
  readonly #token: string
  readonly provider: string
  private readonly retry: RetryPolicy
  private readonly clock: Clock
  private readonly doFetch: typeof fetch

  private readonly opts: Omit<ApiClientOptions, 'token'>

  constructor({ token, ...opts }: ApiClientOptions) {
    // Kept in a #private field only: not enumerable, not serialised, not printed by inspect().
    this.#token = token
    this.opts = opts
    this.provider = opts.profile.name
    this.retry = { ...DEFAULT_RETRY, ...opts.retry }
    this.clock = opts.clock ?? realClock
    this.doFetch = opts.fetch ?? fetch
  }

  /** Every string that leaves this client goes through here. */
  private clean(s: string): string {
    return redact(s, [this.#token])
  }

  private fail(reason: string, init: Omit<ConstructorParameters<typeof CloudApiError>[1], 'provider'>): CloudApiError {
    return new CloudApiError(this.clean(reason), { provider: this.provider, ...init })
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path)
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body)
  }

  /**
   * One API call with bounded retries. POSTs are retried too: every POST hapair makes (assign to
   * server X, power off) has the same effect when repeated, so a lost answer is safe to retry.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = this.opts.baseUrl.replace(/\/+$/, '') + path
    const { maxAttempts, baseDelayMs, maxDelayMs, budgetMs, requestTimeoutMs } = this.retry
    let waited = 0
    for (let attempt = 1; ; attempt++) {
      let res: Response
      try {
        res = await this.doFetch(url, {
          method,
          headers: {
            authorization: `Bearer ${this.#token}`,
            accept: 'application/json',
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(requestTimeoutMs),
        })
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } }
        const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError'
        const why = timedOut ? `no answer within ${requestTimeoutMs} ms` : `network error: ${err.cause?.code ?? err.cause?.message ?? err.message}`
        const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
        if (attempt >= maxAttempts || waited + delay > budgetMs) {
          // The cause is dropped on purpose: undici's errors can hold the request, headers included.
          throw this.fail(`${why} (after ${attempt} attempt${attempt > 1 ? 's' : ''})`, {
            method,
            path,
            attempts: attempt,
            retriesExhausted: attempt > 1,
            timedOut,
          })
        }
        this.note(`${method} ${path}: ${why}; retry ${attempt + 1}/${maxAttempts} in ${delay} ms`)
        await this.clock.sleep(delay)
        waited += delay
        continue
      }

      // Provider text (error bodies, action errors) reaches messages and reports: clean it first.
      const text = this.clean(await res.text())
      let json: unknown
      try {
        json = text ? JSON.parse(text) : undefined
      } catch {
        json = undefined
      }
      if (res.ok) return json as T

      const { code, message } = this.opts.profile.errorOf(json)
      const detail = `${res.status}${code ? ` ${code}` : ''}: ${short(message ?? (json === undefined ? text : JSON.stringify(json)) ?? res.statusText)}`
      const init = { method, path, status: res.status, code, attempts: attempt }
      if (res.status === 401) {
        throw this.fail(
          `${res.status} unauthorized: the API token was rejected; check ${this.opts.tokenHint ?? 'the token'} (${short(message ?? 'no detail', 120)})`,
          init,
        )
      }
      if (res.status === 403) throw this.fail(`${detail} (the token lacks a permission: a read-only token cannot move addresses or power servers off)`, init)

      const busy = this.opts.profile.isBusy(res.status, code, message)
      const retryable = res.status === 429 || res.status >= 500 || busy
      if (!retryable) throw this.fail(detail, init)

      let delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
      if (res.status === 429) {
        const limited = rateLimitDelayMs(res.headers, this.clock.now())
        if (limited !== undefined && limited > budgetMs - waited) {
          throw this.fail(`${detail}: rate limit lifts in ${Math.ceil(limited / 1000)} s, beyond the ${Math.round(budgetMs / 1000)} s retry budget`, {
            ...init,
            retriesExhausted: true,
          })
        }
        if (limited !== undefined) delay = Math.min(maxDelayMs, Math.max(limited, baseDelayMs))
      }
      if (attempt >= maxAttempts || waited + delay > budgetMs) {
        throw this.fail(`${detail} (gave up after ${attempt} attempts)`, { ...init, retriesExhausted: true, locked: busy })
      }
      this.note(`${method} ${path}: ${detail}; retry ${attempt + 1}/${maxAttempts} in ${delay} ms`)
      await this.clock.sleep(delay)
      waited += delay
    }
  }

  private note(line: string): void {
    this.opts.log?.(this.clean(`${this.provider} API ${line}`))
  }
}
