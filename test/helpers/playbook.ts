// Runs a playbook the way a user does (a separate process), for exit codes and output.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

// Tests never write into the real user's audit log: every test process gets its own, for
// playbooks it spawns and for operations it runs in-process (which read process.env).
const auditDir = mkdtempSync(path.join(tmpdir(), 'hapair-audit-'))
export const AUDIT_LOG = path.join(auditDir, 'audit.jsonl')
process.env.HAPAIR_AUDIT_LOG = AUDIT_LOG
process.on('exit', () => rmSync(auditDir, { recursive: true, force: true }))

/** The entries of an audit log, oldest first ([] when nothing was written yet). */
export function auditEntries(file: string = AUDIT_LOG): any[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
}

export interface PlaybookRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** The crash tests' preload, when they ask for it (HAPAIR_CRASH_AFTER_STEP). */
export const crashHook = (env: NodeJS.ProcessEnv) =>
  env.HAPAIR_CRASH_AFTER_STEP ? ['--import', fileURLToPath(new URL('./crash-after.ts', import.meta.url))] : []

/** opts.onSpawn gets the child (to stop it mid-operation, by its own PID). opts.env may name its own HAPAIR_AUDIT_LOG (an unwritable one, say); otherwise the process's AUDIT_LOG. */
export function playbook(
  name: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<PlaybookRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HAPAIR_AUDIT_LOG: AUDIT_LOG, ...opts.env }
    delete env.FORCE_COLOR // node warns on stderr when both are set
    const child = spawn(process.execPath, ['--import', 'tsx', ...crashHook(env), `playbooks/${name}.ts`, ...args], {
      cwd: root,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    opts.onSpawn?.(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
    child.stdin.end(opts.input ?? '')
  })
}

/** Parses the JSON a playbook printed with --json, with the output in the error when it is not JSON. */
export function json(r: PlaybookRun): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
}
