// Runs node-side scripts on this machine, the way NodeSession runs them on a node: vectors
// quoted word by word, scripts as written, sh as the login shell. For testing what the scripts
// do with real files before (and besides) the lab.
import { spawnSync } from 'node:child_process'
import { RemoteError } from '../../lib/errors.ts'
import { shJoin } from '../../lib/shell.ts'
import type { Command, RunOptions, RunResult } from '../../lib/ssh.ts'

export function runLocal(cmd: Command, opts: RunOptions = {}, env: Record<string, string> = {}): RunResult {
  const command = Array.isArray(cmd) ? shJoin(cmd) : cmd.script
  const started = Date.now()
  const r = spawnSync('sh', ['-c', command], { input: opts.input, env: { ...process.env, ...env }, maxBuffer: 1 << 28, timeout: opts.timeoutMs })
  const res: RunResult = {
    node: 'local',
    host: '127.0.0.1',
    command,
    code: r.status,
    signal: r.signal,
    stdout: r.stdout.toString('utf8'),
    stderr: r.stderr.toString('utf8'),
    durationMs: Date.now() - started,
    ok: r.status === 0,
  }
  if (!res.ok && opts.check !== false)
    throw new RemoteError(`exit ${r.status}: ${res.stderr.trim()}`, { node: 'local', host: '127.0.0.1', exitCode: r.status, stderr: res.stderr })
  return res
}
