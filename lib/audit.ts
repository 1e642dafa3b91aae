// A local, append-only audit trail of operations: who, when, from, to, step timings.
import { appendFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function auditLogPath(): string {
  if (process.env.HAPAIR_AUDIT_LOG) return process.env.HAPAIR_AUDIT_LOG
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state')
  return path.join(base, 'hapair', 'audit.jsonl')
}

export function audit(entry: Record<string, unknown>): string {
  const file = auditLogPath()
  mkdirSync(path.dirname(file), { recursive: true })
  const who = process.env.SUDO_USER || os.userInfo().username
  appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), who, host: os.hostname(), ...entry }) + '\n')
  return file
}
