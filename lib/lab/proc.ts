// Running the system tools the lab is built from. Argument arrays only: inventory values
// (node names, paths) never pass through a shell unless as positional "$1" arguments.
import { spawn, type StdioOptions } from 'node:child_process'
import { constants } from 'node:os'
import { HapairError } from '../errors.ts'
import { toolPath } from './tools.ts'

export interface ProcResult {
  code: number
  stdout: string
  stderr: string
}
export interface RunOptions {
  input?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs?: number
}

/** Shell convention: a process killed by signal N reports 128+N, so callers see one number. */
export const exitCodeOf = (code: number | null, signal: NodeJS.Signals | null) => code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)

/** What a login on a lab node would see; the controller's NODE_OPTIONS (tsx) must not leak in. */
export function nodeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    USER: 'root',
    LOGNAME: 'root',
    SHELL: '/bin/sh',
    LANG: process.env.LANG || 'C.UTF-8',
  }
  if (process.env.TERM) env.TERM = process.env.TERM
  return env
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath(cmd), args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new HapairError(`cannot run ${cmd}: ${e.message}`, { cause: e }))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: exitCodeOf(code, signal), stdout, stderr })
    })
    // A command that exits without reading its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

/** Runs and throws a HapairError naming the command and its stderr unless it exits 0. */
export async function must(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')
    throw new HapairError(`${cmd} ${args.join(' ')}: exit ${r.code}${why ? `: ${why}` : ''}`)
  }
  return r.stdout
}

/** Like run, but the child shares our terminal (lab exec): only the exit code comes back. */
export function runInherit(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdio?: StdioOptions } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath(cmd), args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: opts.stdio ?? 'inherit' })
    child.on('error', (e) => reject(new HapairError(`cannot run ${cmd}: ${e.message}`, { cause: e })))
    child.on('close', (code, signal) => resolve(exitCodeOf(code, signal)))
  })
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
