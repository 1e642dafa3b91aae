// The contract every verification check follows: a name, a one-line summary, an optional
// validate (runs before anything is touched, so a bad inventory exits 2), and run.
import type { RemoteError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import type { CheckResult } from '../report/types.ts'
import type { SshPool } from '../ssh.ts'
import type { NodeState } from '../state.ts'
import type { Problem } from '../observe.ts'
import type { Step } from '../progress.ts'

export type { CheckResult } from '../report/types.ts'

export interface CheckContext {
  inv: LoadedInventory
  pair: Pair
  pool: SshPool
  /** The active node by epoch, or the inventory primary: the reference for drift and the holder of singletons. */
  active: string
  /** Nodes that answered at the start of the run; checks only talk to these. */
  reachable: Node[]
  /** Nodes that did not answer, with why; the runner reports them for every check. */
  unreachable: Record<string, string>
  /** The same nodes' errors, for their flags. */
  unreachableErrors: Record<string, RemoteError>
  /** Records that cannot be believed (corrupt, contradicted by what runs, epochs that jump): lib/observe.ts. */
  problems: Problem[]
  /** What each reachable node had on disk at the start (offsets of the error logs live here). */
  states: Record<string, NodeState>
  /** sync-drift compares content checksums instead of size and mtime. */
  deep: boolean
  /** How many names a detail lists before "and N more". */
  listMax: number
  /** Controller clock, injectable for tests. */
  now: () => number
  /** The running check's line in the progress meter, when one is shown: what it does now, bytes it covered. */
  step?: Step
}

/** What a check says about one node; the runner adds pair, check name and timing. */
export interface Verdict {
  ok: boolean
  detail: string
}

export interface Check {
  name: string
  summary: string
  /** Problems with the pair's declarations (bad regex…): reported before any node is touched. */
  validate?: (pair: Pair) => string[]
  /** Only for pairs that declare what it checks (a PostgreSQL service…); absent: every pair. */
  appliesTo?: (pair: Pair) => boolean
  run: (ctx: CheckContext) => Promise<CheckResult[]>
}
