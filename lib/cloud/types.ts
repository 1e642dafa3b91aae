// What a provider must offer the generic cloud drivers: move one address between servers,
// and switch a server's power. Each provider adapter (hcloud.ts, digitalocean.ts) maps its
// own API onto these, so the drivers' logic is written, and tested, once.
import type { PowerState } from '../drivers/types.ts'

export interface AddressApi {
  readonly provider: string
  /** For messages: "floating IP 42 (203.0.113.10)". */
  readonly label: string
  /** The server (droplet) the provider routes the address to now; null when unassigned. */
  holder(): Promise<number | null>
  /** Assigns and waits for the provider's action to succeed. */
  assign(serverId: number): Promise<void>
  unassign(): Promise<void>
}

export interface PowerApi {
  readonly provider: string
  power(serverId: number): Promise<PowerState>
  /** Hard power off (not an ACPI shutdown: a hung node ignores that). Waits for the action. */
  powerOff(serverId: number): Promise<void>
  powerOn(serverId: number): Promise<void>
}
