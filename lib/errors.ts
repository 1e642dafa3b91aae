// Typed errors: callers branch on flags and exit codes, never on message text.

/** Exit codes mean one thing each (documented in the README). */
export const EXIT = { ok: 0, failed: 1, badInput: 2, refused: 3, degraded: 4 } as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export class HapairError extends Error {
  exitCode: ExitCode = EXIT.failed
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts)
    this.name = new.target.name
  }
}

/** The inventory (or a command-line argument) is wrong; nothing was touched. */
export class InputError extends HapairError {
  override exitCode: ExitCode = EXIT.badInput
  constructor(message: string, readonly problems: string[] = [message]) {
    super(message)
  }
}

/** A safety precondition refused the operation; nothing unsafe was done. */
export class RefusedError extends HapairError {
  override exitCode: ExitCode = EXIT.refused
  readonly refusedForSafety = true
}

export interface RemoteErrorInit {
  node: string
  host: string
  command?: string
  exitCode?: number | null
  signal?: string | null
  stderr?: string
  durationMs?: number
  unreachable?: boolean
  timedOut?: boolean
  hostKeyMismatch?: boolean
  cause?: unknown
}

/** Something failed on (or on the way to) a node. */
export class RemoteError extends HapairError {
  readonly node: string
  readonly host: string
  readonly command?: string
  readonly remoteExitCode?: number | null
  readonly signal?: string | null
  readonly stderr: string
  readonly durationMs: number
  readonly unreachable: boolean
  readonly timedOut: boolean
  readonly hostKeyMismatch: boolean
  constructor(reason: string, init: RemoteErrorInit) {
    super(`${init.node} (${init.host}): ${reason}`, { cause: init.cause })
    this.node = init.node
    this.host = init.host
    this.command = init.command
    this.remoteExitCode = init.exitCode
    this.signal = init.signal
    this.stderr = init.stderr ?? ''
    this.durationMs = init.durationMs ?? 0
    this.unreachable = init.unreachable ?? false
    this.timedOut = init.timedOut ?? false
    this.hostKeyMismatch = init.hostKeyMismatch ?? false
  }
}

/** Readable meaning of common exit codes, as zx does for local commands. */
export function exitCodeMeaning(code: number | null | undefined): string {
  switch (code) {
    case 0: return 'success'
    case 1: return 'general error'
    case 2: return 'misuse or bad arguments'
    case 124: return 'timed out'
    case 126: return 'not executable'
    case 127: return 'command not found'
    case 130: return 'interrupted'
    case 137: return 'killed'
    case 255: return 'ssh or remote shell failure'
    default: return code == null ? 'no exit code' : `exit ${code}`
  }
}
