// Knobs the cloud drivers share; tests inject an instant clock, short polls and a fetch spy.
import type { PollOptions } from './actions.ts'
import { ApiClient, type Clock, type ProviderProfile, type RetryPolicy } from './http.ts'
import { resolveToken, tokenPath, type TokenSource } from './token.ts'

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
