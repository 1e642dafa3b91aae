// Shared by the lease lab tests: the lab inventory fenced by lease, and a renewer standing in for
// the watcher (renews every renewMs until stopped, remembering what happened).
import { RefusedError } from '../../lib/errors.ts'
import type { LeaseFenceDriver } from '../../lib/drivers/fence-lease.ts'
import type { Node } from '../../lib/inventory/schema.ts'

export const LEASE = { leaseMs: 1000, marginMs: 300, renewMs: 200 }

/** startTestLab's mutate: the demo pair fenced by lease (defaults of the schema, spelled out). */
export function leaseInventory(extra?: (j: any) => void) {
  return (j: any) => {
    j.pairs[0].fencing = { driver: 'lease', lease: { ...LEASE } }
    extra?.(j)
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface Renewer {
  /** Renewals that reached the active node: issue time and deadline. */
  ok: { at: number; until: number }[]
  refused: number
  failed: string[]
  /** Stops; waits for the renewal in flight unless told not to (one to an unreachable node takes seconds to fail). */
  stop(opts?: { wait?: boolean }): Promise<void>
}

/**
 * Renews every renewMs. Sequential by default (the next one starts when the last is done); with
 * `overlap` on a timer, so a write stuck on an unreachable active node does not hold back the
 * ledger writes of the next renewals (a watcher that renews on a clock).
 */
export function startRenewer(d: LeaseFenceDriver, active: Node, epoch = 0, opts: { overlap?: boolean } = {}): Renewer {
  let stopped = false
  const inFlight = new Set<Promise<void>>()
  const once = async () => {
    const t0 = Date.now()
    try {
      const x = await d.renew(active, epoch)
      r.ok.push({ at: t0, until: x.until })
    } catch (e) {
      if (e instanceof RefusedError) r.refused++
      else r.failed.push(`+${Date.now() - t0} ms: ${(e as Error).message}`)
    }
  }
  const r: Renewer = {
    ok: [],
    refused: 0,
    failed: [],
    stop: async (o) => {
      stopped = true
      if (o?.wait !== false) {
        await loop
        await Promise.all([...inFlight])
      }
    },
  }
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now()
      const p = once()
      if (opts.overlap) {
        inFlight.add(p)
        p.finally(() => inFlight.delete(p))
      } else await p
      const left = d.renewMs - (Date.now() - t0)
      if (left > 0 && !stopped) await sleep(left)
    }
  })()
  return r
}
