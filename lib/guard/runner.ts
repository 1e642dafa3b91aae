// How guard code reaches a node: over the pool's pinned SSH session (playbooks, the fencing driver)
// or, in the lab, straight into the node's namespaces (lib/lab/guard.ts). Both run one sh script.
import type { NodeSession } from '../ssh.ts'

export interface RunOutput {
  code: number
  stdout: string
  stderr: string
}
/** Runs a fixed sh script on one node; `input` goes to its stdin. Never throws for a non-zero exit. */
export type GuardRunner = (script: string, input?: string) => Promise<RunOutput>

/** Over SSH. Throws the session's RemoteError when the node cannot be asked. */
export function sessionRunner(s: NodeSession, timeoutMs?: number): GuardRunner {
  return async (script, input) => {
    const r = await s.run({ script }, { input, check: false, timeoutMs })
    return { code: r.code ?? 128, stdout: r.stdout, stderr: r.stderr }
  }
}
