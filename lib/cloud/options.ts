// Knobs the cloud drivers share; tests inject an instant clock, short polls and a fetch spy.
import type { PollOptions } from './actions.ts'
import { ApiClient, type Clock, type ProviderProfile, type RetryPolicy } from './http.ts'
import { resolveToken, tokenPath, type TokenSource } from './token.ts'
import { InputError } from '../errors.ts'

export interface CloudOptions {
  retry?: Partial<RetryPolicy>
  poll?: Omit<PollOptions, 'provider' | 'what' | 'clock'>
  clock?: Clock
  /** Retry notices; default: stderr. */
  log?: (line: string) => void
  env?: NodeJS.ProcessEnv
  fetch?: typeof fetch
}

/** Builds the client on first use: validate() can run (and fail) without a token being read. */
export function lazyClient(profile: ProviderProfile, baseUrl: string, token: TokenSource, opts: CloudOptions): () => ApiClient {
  let client: ApiClient | undefined
  return () => {
    client ??= new ApiClient({
      profile,
      baseUrl,
      token: resolveToken(token, opts.env),
      tokenHint: tokenPath(token) ? `tokenFile ${tokenPath(token)}` : token.envVars.join(' / '),
      retry: opts.retry,
      clock: opts.clock,
      fetch: opts.fetch,
      log: opts.log ?? ((l) => console.error(l)),
    })
    return client
  }
}

export const pollOf = (opts: CloudOptions) => ({ ...opts.poll, clock: opts.clock })

/**
 * The API base URL: the inventory block's apiUrl, else the endpoint variable the provider's own
 * tools read (HCLOUD_ENDPOINT for the hcloud CLI and the stack's Pulumi provider,
 * DIGITALOCEAN_API_URL for DigitalOcean's), else the public API. The variable is what lets an
 * inventory written by import-stack, which has no apiUrl, reach another endpoint unedited.
 * Read when the driver is built, so a bad value stops the playbook before anything changes.
 */
export function apiBase(configured: string | undefined, api: { url: string; envVar: string }, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured
  const v = env[api.envVar]?.trim()
  if (!v) return api.url
  let u: URL | undefined
  try {
    u = new URL(v)
  } catch {
    /* reported below */
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password)
    throw new InputError(
      `${api.envVar}: not an http(s) API base URL without credentials in it (got ${JSON.stringify(u?.username || u?.password ? '(redacted)' : v)})`,
    )
  return v.replace(/\/+$/, '')
}
