// The outside client: GETs the floating IP from the controller (the root namespace), a fresh
// connection each time (agent: false in httpBody), so a kept-alive socket to the old node
// cannot hide the switch. The lab's web service answers with the node's name.
import { httpBody } from '../../test/helpers/lab.ts'
import { sleep } from './proc.ts'

const PORT = 8080
/** Long enough for a loaded 2-core machine to answer, short enough to keep few sockets open. */
const TIMEOUT_MS = 250

/** Polls (one request at a time) until host answers as `want`: the epoch ms of that answer, or undefined after limitMs. */
export async function servedBy(host: string, want: string, limitMs: number): Promise<number | undefined> {
  const end = Date.now() + limitMs
  while (Date.now() < end) {
    if ((await httpBody(host, PORT, TIMEOUT_MS)) === want) return Date.now()
    await sleep(5)
  }
  return undefined
}

export interface FirstAnswer {
  /** Epoch ms of the first answer from `want`; undefined when stopped or past the limit first. */
  first: Promise<number | undefined>
  /** Answers seen so far, by body (or error code: ETIMEDOUT, ECONNREFUSED, "timeout"). */
  counts: Record<string, number>
  stop(): void
}

/**
 * A GET every 5 ms, each without waiting for the one before: during the outage requests to the
 * old node hang until their timeout, and a poller that waited for each would see the new node
 * only that much later.
 */
export function firstAnswerFrom(host: string, want: string, limitMs: number, everyMs = 5): FirstAnswer {
  const counts: Record<string, number> = {}
  let done = false
  let resolve!: (v: number | undefined) => void
  const first = new Promise<number | undefined>((r) => {
    resolve = r
  })
  const end = (v: number | undefined) => {
    if (done) return
    done = true
    clearInterval(tick)
    clearTimeout(limit)
    resolve(v)
  }
  const tick = setInterval(() => {
    void httpBody(host, PORT, TIMEOUT_MS).then((b) => {
      const at = Date.now()
      counts[b] = (counts[b] ?? 0) + 1
      if (b === want) end(at)
    })
  }, everyMs)
  const limit = setTimeout(() => end(undefined), limitMs)
  return { first, counts, stop: () => end(undefined) }
}
