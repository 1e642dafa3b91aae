// Where an API token comes from: a file the inventory names, else the provider's environment
// variable. Never the inventory itself (the schema has no field for it), and never echoed:
// every message here names the file or the variable, not what is in it.
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.ts'

export interface TokenSource {
  /** e.g. HCLOUD_TOKEN */
  envVars: string[]
  /** As written in the inventory; relative paths resolve from the inventory's directory. */
  tokenFile?: string
  /** The inventory file's directory. */
  dir: string
  /** For messages: "floating IP 203.0.113.10" or "pair web fencing". */
  what: string
}

export const tokenPath = (src: TokenSource): string | undefined => (src.tokenFile ? path.resolve(src.dir, src.tokenFile) : undefined)

/** Where the token would come from, or a problem; reads nothing secret (for validate()). */
export function tokenProblem(src: TokenSource, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = tokenPath(src)
  if (file) {
    try {
      if (!statSync(file).isFile()) return `${src.what}: tokenFile ${file} is not a file`
    } catch (e) {
      return `${src.what}: tokenFile ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : ((e as NodeJS.ErrnoException).code ?? 'unreadable')}`
    }
    return undefined
  }
  if (src.envVars.some((v) => env[v]?.trim())) return undefined
  return `${src.what}: no API token: set ${src.envVars.join(' or ')} or name a tokenFile in the inventory`
}

/** The token itself. An explicit tokenFile wins over the environment: it is what the inventory asked for. */
export function resolveToken(src: TokenSource, env: NodeJS.ProcessEnv = process.env): string {
  const problem = tokenProblem(src, env)
  if (problem) throw new InputError(problem)
  const file = tokenPath(src)
  let token: string
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim()
    } catch (e) {
      throw new InputError(`${src.what}: cannot read tokenFile ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    if (!token) throw new InputError(`${src.what}: tokenFile ${file} is empty`)
  } else {
    token = src.envVars.map((v) => env[v]?.trim()).find(Boolean)!
  }
  // A header value cannot hold a newline; saying which line is wrong would print part of the secret.
  if (/[\s\0]/.test(token)) throw new InputError(`${src.what}: the API token (${file ?? 'environment'}) contains whitespace or control characters`)
  return token
}

/** Replaces every occurrence of each secret (and any bearer credential) in text. */
export function redact(text: string, secrets: string[]): string {
  let out = text
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]')
  return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1[REDACTED]')
}
