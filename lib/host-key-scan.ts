// What a node's sshd presents, learned without trusting it: every handshake is refused at host-key
// verification, so no credential is offered and nothing is run. The keys are for comparing with
// a fingerprint the operator read out of band, never a reason to connect.
import { Client } from 'ssh2'
import { InputError, RemoteError } from './errors.ts'
import { fingerprint } from './known-hosts.ts'

export interface PresentedKey {
  type: string
  blob: Buffer
  fingerprint: string
}

/**
 * One handshake per algorithm: a server shows one host key per handshake, the one the client's
 * first acceptable algorithm names, so a key of another type is only seen when asked for alone.
 * rsa-sha2-512 stands for the ssh-rsa key (one blob whatever the signature hash).
 */
export const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512'] as const

/** The key type a public key blob names (its first SSH string), e.g. "ssh-ed25519". */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) throw new Error('not an SSH public key blob')
  const n = blob.readUInt32BE(0)
  if (n < 1 || n > 64 || 4 + n > blob.length) throw new Error('not an SSH public key blob')
  return blob.subarray(4, 4 + n).toString('latin1')
}

const FP_BODY = /^[A-Za-z0-9+/]{43}$/

/**
 * The fingerprint as `ssh-keygen -lf` prints it (SHA256:<43 base64 characters>); padding an
 * operator copied along is dropped. Anything else: InputError (exit 2), saying what was expected.
 */
export function parseFingerprint(given: string, flag = '--fingerprint'): string {
  const s = given.trim()
  const want = `${flag} takes the SHA256 fingerprint as \`ssh-keygen -lf\` prints it (SHA256: and 43 base64 characters)`
  if (/^MD5:|^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(s)) throw new InputError(`${flag} ${JSON.stringify(given)} is an MD5 fingerprint: ${want}`)
  if (!s.startsWith('SHA256:')) throw new InputError(`${flag} ${JSON.stringify(given)} does not start with SHA256: (${want})`)
  const body = s.slice(7).replace(/=$/, '')
  // 43 characters carry 258 bits; a digest of 256 leaves the last two zero, which a typo may not.
  if (!FP_BODY.test(body) || Buffer.from(body, 'base64').toString('base64').replace(/=$/, '') !== body) {
    throw new InputError(`${flag} ${JSON.stringify(given)} is not a SHA256 digest: ${want}`)
  }
  return `SHA256:${body}`
}

export interface ScanTarget {
  node: string
  host: string
  port: number
  user: string
  timeoutMs: number
}

type Attempt = { key: PresentedKey } | { offered: false } | { error: Error & { level?: string; code?: string } }

function attempt(t: ScanTarget, algorithm: string): Promise<Attempt> {
  return new Promise((resolve) => {
    const c = new Client()
    let seen: PresentedKey | undefined
    let settled = false
    const done = (a: Attempt) => {
      if (settled) return
      settled = true
      c.destroy()
      resolve(a)
    }
    c.on('error', (error: Error & { level?: string; code?: string }) => {
      if (seen) return done({ key: seen })
      if (error.level === 'handshake' && /no matching host key/i.test(error.message)) return done({ offered: false })
      done({ error })
    })
    // The verifier refuses every key, so 'ready' cannot come; if it ever did, nothing is sent.
    c.on('ready', () => done(seen ? { key: seen } : { error: new Error('handshake completed without a host key') }))
    c.on('close', () => done(seen ? { key: seen } : { error: new Error('connection closed before the host key was shown') }))
    c.connect({
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: t.timeoutMs,
      algorithms: { serverHostKey: [algorithm] as any },
      hostVerifier: (key: Buffer) => {
        try {
          seen = { type: keyType(key), blob: Buffer.from(key), fingerprint: fingerprint(key) }
        } catch {
          /* not a key: not recorded */
        }
        return false
      },
    })
  })
}

/** Every host key the node's sshd presents, one per type, in HOST_KEY_ALGORITHMS order; RemoteError when it shows none. */
export async function scanHostKeys(t: ScanTarget): Promise<PresentedKey[]> {
  const started = Date.now()
  const results = await Promise.all(HOST_KEY_ALGORITHMS.map((a) => attempt(t, a)))
  const keys: PresentedKey[] = []
  for (const r of results) if ('key' in r && !keys.some((k) => k.blob.equals(r.key.blob))) keys.push(r.key)
  if (keys.length) return keys
  const failed = results.find((r): r is { error: Error & { level?: string; code?: string } } => 'error' in r)
  const durationMs = Date.now() - started
  if (!failed)
    throw new RemoteError(`sshd on port ${t.port} offers none of the host key types ${HOST_KEY_ALGORITHMS.join(', ')}`, {
      node: t.node,
      host: t.host,
      durationMs,
    })
  const e = failed.error
  const timedOut = e.level === 'client-timeout' || e.code === 'ETIMEDOUT'
  throw new RemoteError(`unreachable on port ${t.port}: ${e.code ?? e.message}; no host key seen`, {
    node: t.node,
    host: t.host,
    unreachable: true,
    timedOut,
    durationMs,
    cause: e,
  })
}
