// Claiming specific test-lab slots (here 6 and 7, one /26) with the protocol of
// test/helpers/lab.ts (its tryClaim and releaseSlot), so lab tests that run meanwhile pick
// other slots and a dead owner's lab is taken down by the next claimant.
import path from 'node:path'
import { SLOT_DIR, releaseSlot, tryClaim } from '../../test/helpers/lab.ts'
import { sleep } from './proc.ts'

const slotPath = (k: number) => path.join(SLOT_DIR, String(k))

export function releaseSlots(ks: number[]): void {
  for (const k of ks) releaseSlot(k)
}

/**
 * Claims every slot in ks, in order, holding those it has while it waits for the rest (tests
 * move to other slots meanwhile); `file` is the inventory whose lab a later claimant removes
 * should this process die without releasing them.
 */
export async function claimSlots(ks: number[], file: string, log: (l: string) => void, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs
  let said = false
  for (const k of ks) {
    while (!tryClaim(k, file)) {
      if (Date.now() > end) {
        releaseSlots(ks)
        throw new Error(`lab slot ${k} (${slotPath(k)}) still held after ${timeoutMs / 1000} s`)
      }
      if (!said) {
        log(`waiting for lab slot ${k} (held by a test run)`)
        said = true
      }
      await sleep(500)
    }
  }
}
