// Providers answer "assign" and "power off" with an action object that finishes later; the
// change has happened only when the action says so. Polling is bounded in time, and the time
// counted is the time slept, so a test's instant clock still ends the loop.
import { CloudApiError } from './errors.ts'
import { realClock, type Clock } from './http.ts'

/** An action, in the provider-neutral form the drivers use. */
export interface ActionView {
  id: string
  state: 'running' | 'success' | 'error'
  /** The provider's reason when state is error. */
  error?: string
}

export interface PollOptions {
  provider: string
  /** For messages: "assign floating IP 42 to server 7". */
  what: string
  /** First interval; grows by half each poll up to maxIntervalMs. */
  intervalMs?: number
  maxIntervalMs?: number
  timeoutMs?: number
  clock?: Clock
}

export const DEFAULT_POLL = { intervalMs: 500, maxIntervalMs: 3000, timeoutMs: 180_000 }

export async function waitForAction(first: ActionView, refresh: (id: string) => Promise<ActionView>, opts: PollOptions): Promise<ActionView> {
  const clock = opts.clock ?? realClock
  const max = opts.maxIntervalMs ?? DEFAULT_POLL.maxIntervalMs
  const timeoutMs = opts.timeoutMs ?? DEFAULT_POLL.timeoutMs
  let interval = opts.intervalMs ?? DEFAULT_POLL.intervalMs
  let action = first
  let waited = 0
  let polls = 0
  while (action.state === 'running') {
    if (waited >= timeoutMs) {
      throw new CloudApiError(`${opts.what}: action ${action.id} still running after ${Math.round(waited / 1000)} s (${polls} polls)`, {
        provider: opts.provider,
        actionFailed: true,
        timedOut: true,
      })
    }
    await clock.sleep(interval)
    waited += interval
    interval = Math.min(max, Math.round(interval * 1.5))
    action = await refresh(action.id)
    polls++
  }
  if (action.state === 'error') {
    throw new CloudApiError(`${opts.what}: action ${action.id} failed: ${action.error ?? 'no reason given'}`, { provider: opts.provider, actionFailed: true })
  }
  return action
}
