// Runs a playbook the way a user does (a separate process), for exit codes and output.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface PlaybookRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

export function playbook(name: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<PlaybookRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...opts.env }
    delete env.FORCE_COLOR // node warns on stderr when both are set
    const child = spawn(process.execPath, ['--import', 'tsx', `playbooks/${name}.ts`, ...args], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, ms: Date.now() - started }) })
    child.stdin.end(opts.input ?? '')
  })
}

/** Parses the JSON a playbook printed with --json, with the output in the error when it is not JSON. */
export function json(r: PlaybookRun): any {
  try { return JSON.parse(r.stdout) } catch { throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`) }
}
