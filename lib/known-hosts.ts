// known_hosts parsing and host-key matching: the only source of trust for a node's identity.
import { createHash, createHmac } from 'node:crypto'
import { MAX_BYTES, decodeUtf8, readRegularFileOnce } from './inventory/read-file.ts'

export interface KnownKey {
  type: string
  blob: Buffer
}

/** OpenSSH's fingerprint format: SHA256:<base64 without padding>. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')
}

function hostPatterns(host: string, port: number): string[] {
  return port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`]
}

function matchesEntry(field: string, candidates: string[]): boolean {
  if (field.startsWith('|1|')) {
    // Hashed entry: |1|base64(salt)|base64(HMAC-SHA1(salt, host))
    const [, , salt, hash] = field.split('|')
    const key = Buffer.from(salt, 'base64')
    return candidates.some((c) => createHmac('sha1', key).update(c).digest('base64') === hash)
  }
  const names = field.split(',')
  return names.some((n) => !n.startsWith('!') && candidates.includes(n))
}

/** Keys pinned for a host (by address and, optionally, by name); revoked (@revoked) keys are listed apart. */
export function parseKnownHosts(text: string, hosts: string[], port = 22): { keys: KnownKey[]; revoked: KnownKey[] } {
  const candidates = hosts.flatMap((h) => hostPatterns(h, port))
  const keys: KnownKey[] = []
  const revoked: KnownKey[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const parts = line.split(/\s+/)
    let marker = ''
    if (parts[0].startsWith('@')) marker = parts.shift()!
    if (parts.length < 3 || marker === '@cert-authority') continue
    const [field, type, b64] = parts
    if (!matchesEntry(field, candidates)) continue
    const entry = { type, blob: Buffer.from(b64, 'base64') }
    ;(marker === '@revoked' ? revoked : keys).push(entry)
  }
  return { keys, revoked }
}

export type HostKeyVerdict =
  { ok: true; fingerprint: string } | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked'; presented: string; expected: string[] }

/** Decides whether a presented host key blob is one the known_hosts file pins for this host. */
export function checkHostKey(known: { keys: KnownKey[]; revoked: KnownKey[] }, presented: Buffer): HostKeyVerdict {
  const fp = fingerprint(presented)
  if (known.revoked.some((k) => k.blob.equals(presented))) return { ok: false, reason: 'revoked', presented: fp, expected: [] }
  if (known.keys.some((k) => k.blob.equals(presented))) return { ok: true, fingerprint: fp }
  const expected = known.keys.map((k) => fingerprint(k.blob))
  return { ok: false, reason: expected.length ? 'mismatch' : 'unknown', presented: fp, expected }
}

/** known_hosts text: a regular file of bounded size, read once per run (InputError, exit 2, otherwise). */
export function readKnownHostsText(file: string): string {
  const label = `knownHostsFile ${file}`
  return decodeUtf8(readRegularFileOnce(file, { label, maxBytes: MAX_BYTES.knownHosts }), label)
}

export function readKnownHosts(file: string, hosts: string[], port = 22) {
  return parseKnownHosts(readKnownHostsText(file), hosts, port)
}

/** One known_hosts line as written, before any matching: what a strict reader needs to judge it. */
export interface KnownHostsEntry {
  line: number
  raw: string
  marker?: string
  hosts: string
  type?: string
  blob?: Buffer
}

/** Every non-blank, non-comment line, marker and all; a line too short for a key has no type or blob. */
export function knownHostsEntries(text: string): KnownHostsEntry[] {
  const out: KnownHostsEntry[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (!line || line.startsWith('#')) return
    const parts = line.split(/\s+/)
    const marker = parts[0].startsWith('@') ? parts.shift() : undefined
    const [hosts = '', type, b64] = parts
    const blob = b64 && /^[A-Za-z0-9+/]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : undefined
    out.push({ line: i + 1, raw: line, marker, hosts, type: blob ? type : undefined, blob })
  })
  return out
}

/** The host field OpenSSH writes for an address: bare on port 22, `[address]:port` otherwise. */
export const hostField = (address: string, port: number) => (port === 22 ? address : `[${address}]:${port}`)
