// Can a cloud driver act? Asked before a failover changes anything, with one read-only call
// that needs the token: a rejected token must be found here, not at move-ip after the old
// node was fenced. Messages carry no token: they come from ApiClient (scrubbed) or name the
// token's source. (A token that may read but not write passes: neither provider can be asked
// about write scope without writing.)
import { InputError } from '../errors.ts'
import { CloudApiError } from './errors.ts'

/** One line for a failed read-only call, by the error's flags; anything else is a bug and throws. */
export function checkProblem(e: unknown, provider: string, what: string): string {
  if (e instanceof CloudApiError) {
    if (e.unauthorized || e.forbidden) return `${what}: credentials rejected by ${provider}: ${e.message}`
    if (e.notFound) return `${what}: not found at ${provider}: ${e.message}`
    if (e.transient) return `${what}: the ${provider} API did not answer: ${e.message}`
    return `${what}: ${e.message}`
  }
  if (e instanceof InputError) return e.message.startsWith(what) ? e.message : `${what}: ${e.message}`
  throw e
}

/** Runs a read-only call; [] when it succeeds, else its one problem line. */
export async function canCall(provider: string, what: string, call: () => Promise<unknown>): Promise<string[]> {
  try {
    await call()
    return []
  } catch (e) {
    return [checkProblem(e, provider, what)]
  }
}
