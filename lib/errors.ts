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
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
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
  /** The node answered but refused the controller's key: reachable, not trusted. */
  authFailed?: boolean
  /** The node let the controller in, but sudo (ssh.become) will not run commands as root: reachable, not usable. */
  becomeFailed?: boolean
  /** The bastion (ssh.jump) where the connection failed; unset when the node itself failed. */
  hop?: string
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
  readonly authFailed: boolean
  readonly becomeFailed: boolean
  readonly hop?: string
  /** The message without the node's name in front. */
  readonly reason: string
  constructor(reason: string, init: RemoteErrorInit) {
    super(`${init.node} (${init.host}): ${reason}`, { cause: init.cause })
    this.reason = reason
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
    this.authFailed = init.authFailed ?? false
    this.becomeFailed = init.becomeFailed ?? false
    this.hop = init.hop
  }

  /** The node gave no answer to trust: not reached, not in time, not the pinned host, or not let in. A command that ran and exited non-zero is not this. */
  get notAsked(): boolean {
    return this.unreachable || this.timedOut || this.hostKeyMismatch || this.authFailed
  }
}

/**
 * What to do about a node the controller could not get into, decided by the error's flags.
 * The one home of this advice (verify and backup-verify print it; so should anything that reports a node it could not get into).
 */
export function hint(e: RemoteError): string {
  if (e.hop) {
    if (e.hostKeyMismatch) return `verify the bastion ${e.hop}'s identity out of band before trusting it`
    if (e.authFailed) return `check the controller's key in the bastion ${e.hop}'s authorized_keys`
    if (e.unreachable || e.timedOut) return `check the bastion ${e.hop}'s power, network and sshd`
  }
  if (e.hostKeyMismatch) return "verify the node's identity out of band before trusting it"
  if (e.authFailed) return "check the controller's key in the node's authorized_keys"
  if (e.unreachable || e.timedOut) return "check the node's power, network and sshd"
  return ''
}

/** The error's message followed by its hint, when it has one. */
export function withHint(e: RemoteError): string {
  const h = hint(e)
  return h ? `${e.message}: ${h}` : e.message
}

/** Readable meaning of common exit codes, as zx does for local commands. */
export function exitCodeMeaning(code: number | null | undefined): string {
  switch (code) {
    case 0:
      return 'success'
    case 1:
      return 'general error'
    case 2:
      return 'misuse or bad arguments'
    case 124:
      return 'timed out'
    case 126:
      return 'not executable'
    case 127:
      return 'command not found'
    case 130:
      return 'interrupted'
    case 137:
      return 'killed'
    case 255:
      return 'ssh or remote shell failure'
    default:
      return code == null ? 'no exit code' : `exit ${code}`
  }
}
