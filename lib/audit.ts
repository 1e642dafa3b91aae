// A local, append-only audit trail of operations: who, when, from, to, step timings.
// Writing it never fails the operation it records: a switchover that happened must not be
// reported as failed because this controller's disk is full or read-only. The caller warns.
import { appendFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function auditLogPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HAPAIR_AUDIT_LOG) return env.HAPAIR_AUDIT_LOG
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state')
  return path.join(base, 'hapair', 'audit.jsonl')
}

/** Where the entry went; `error` (one line, e.g. "EACCES") when it could not be written. */
export interface AuditResult {
  file: string
  error?: string
}

export function audit(entry: Record<string, unknown>, file: string = auditLogPath()): AuditResult {
  try {
    mkdirSync(path.dirname(file), { recursive: true })
    appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), who: whoAmI(), host: os.hostname(), ...entry }) + '\n')
    return { file }
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    return { file, error: err.code ? `${err.code}${err.path && err.path !== file ? ` (${err.path})` : ''}` : String(err?.message ?? err) }
  }
}

function whoAmI(): string {
  if (process.env.SUDO_USER) return process.env.SUDO_USER
  // userInfo() throws for a uid with no passwd entry (some containers): the log still gets its line.
  try {
    return os.userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}
