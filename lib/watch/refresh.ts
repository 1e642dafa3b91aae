// What the watcher re-reads from every node while it runs: the active record (someone else may
// have switched), the maintenance pause, and the pair lock with its journal (a run that died
// half-way). One SSH command per node, not three: a command is a channel open, exec and close,
// each encrypted and parsed, and for a watcher of 20 pairs those round trips were most of its CPU.
// The three parts are the readers' own scripts and parsers (state.ts, pause.ts, lock.ts), so the
// watcher and the playbooks can never read a record two ways.
import type { Pair } from '../inventory/schema.ts'
import { RemoteError } from '../errors.ts'
import type { SshPool } from '../ssh.ts'
import { viewOf, type ActiveView } from '../active.ts'
import { nodeStateScript, parseNodeState, type ReadState } from '../state.ts'
import { lockDirScript, parseLockDir, type Journal } from '../lock.ts'
import { newestPause, parsePause, pauseScript, type PauseRecord } from './pause.ts'
import { interruptedOf } from './resume.ts'
import { sectionsScript, splitSections } from '../sections.ts'

export interface WatchRead {
  /** activeView's answer, from the active records only. */
  view: ActiveView
  /** readPause's answer. */
  pause?: PauseRecord
  /** interruptedRun's answer. */
  left?: { journal: Journal; node: string }
}

const PARTS = ['state', 'pause', 'lock'] as const
type Part = (typeof PARTS)[number]

/** One script that runs each reader's script in its own subshell (they `exit 0` when done), each section marked. */
export function watchReadScript(pair: Pair): string {
  const scripts: Record<Part, string> = { state: nodeStateScript(pair, ['active']), pause: pauseScript(pair), lock: lockDirScript(pair) }
  return sectionsScript(PARTS.map((p) => [p, scripts[p]] as const))
}

/** The sections of watchReadScript's output; undefined when they are not all there, in order, once each. Pure. */
export function splitWatchRead(stdout: string): Record<Part, string> | undefined {
  return splitSections(stdout, PARTS)
}

export async function readWatchState(pool: SshPool, pair: Pair, opts: { timeoutMs?: number; now?: number } = {}): Promise<WatchRead> {
  const script = watchReadScript(pair)
  const states: Record<string, ReadState> = {}
  const errors: Record<string, RemoteError> = {}
  const pauses: (PauseRecord | undefined)[] = []
  const locks: { node: string; lock?: { owner: string; journal: string } }[] = []
  await Promise.all(
    pair.nodes.map(async (n) => {
      try {
        const s = pool.session(pair, n)
        const r = await s.run({ script }, { timeoutMs: opts.timeoutMs ?? 2000 })
        const parts = splitWatchRead(r.stdout)
        if (!parts)
          throw new RemoteError(
            `the watcher's read printed no complete answer (${r.stdout.length} bytes): a record holds the section marker, or the command was cut short`,
            { node: n.name, host: n.address },
          )
        states[n.name] = parseNodeState(parts.state, pair)
        pauses.push(parsePause(parts.pause))
        locks.push({ node: n.name, lock: parseLockDir(parts.lock) })
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e
        errors[n.name] = e
      }
    }),
  )
  return { view: viewOf(pair, states, errors), pause: newestPause(pauses), left: interruptedOf(pair, locks, opts.now) }
}
