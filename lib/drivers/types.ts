// The contract every IP and fencing driver follows (after ClusterLabs' IPaddr2):
// validate, check (able to act?), status (one probe), start, stop. start and stop branch on the probe, so doing
// either twice is harmless; that is what makes a half-finished failover safe to re-run.
import type { LoadedInventory } from '../inventory/load.ts'
import type { FloatingIp, Node, Pair } from '../inventory/schema.ts'
import type { SshPool } from '../ssh.ts'

export interface DriverContext {
  inv: LoadedInventory
  pair: Pair
  pool: SshPool
}

/** Who holds an address, per node, as probed now. `unknown`: the node could not be asked. */
export type HoldState = 'held' | 'free' | 'unknown'

export interface ActionResult {
  /** false when the probe showed there was nothing to do. */
  changed: boolean
  detail: string
}

export interface IpDriver {
  readonly kind: string
  readonly fip: FloatingIp
  /** Problems with the configuration (empty: fine). Runs before any action. */
  validate(): string[]
  /**
   * Whether the driver can act, asked before anything changes (failover's preflight): e.g. the
   * provider accepts the credentials. Read-only; problems as lines (empty: able to act).
   */
  check(): Promise<string[]>
  /** Probes every node of the pair. */
  status(): Promise<Record<string, HoldState>>
  /** Makes `node` hold the address (idempotent). */
  start(node: Node): Promise<ActionResult>
  /** Makes `node` stop holding the address (idempotent). */
  stop(node: Node): Promise<ActionResult>
  /** Human-readable steps start/stop would take, for --dry-run. */
  describe(action: 'start' | 'stop', node: Node): string[]
}

export type PowerState = 'on' | 'off' | 'unknown'

export interface FenceDriver {
  readonly kind: string
  validate(): string[]
  /** Whether it can act, before anything changes: it can read every node's power state. Read-only. */
  check(): Promise<string[]>
  status(node: Node): Promise<PowerState>
  /** Powers the node off (idempotent): the STONITH step. */
  stop(node: Node): Promise<ActionResult>
  /** Powers it on again (idempotent). */
  start(node: Node): Promise<ActionResult>
  describe(action: 'start' | 'stop', node: Node): string[]
}
