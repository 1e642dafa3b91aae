// Rewriting one host's entry in a known_hosts file and leaving every other line as it was: the
// pure edit (shared by the controller's file and the nodes' own) and the controller-side write.
import { createHmac, randomBytes } from 'node:crypto'
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import { HapairError } from './errors.ts'
import { fingerprint, knownHostsEntries } from './known-hosts.ts'
import { MAX_BYTES, readRegularFile } from './inventory/read-file.ts'

/** The literal host fields OpenSSH (and known-hosts.ts) looks these names up by on this port. */
export function hostFieldsFor(hosts: string[], port: number): string[] {
  return hosts.flatMap((h) => (port === 22 ? [h, `[${h}]:22`] : [`[${h}]:${port}`]))
}

function hashedMatches(field: string, fields: string[]): boolean {
  const [, , salt, hash] = field.split('|')
  if (!salt || !hash) return false
  const key = Buffer.from(salt, 'base64')
  return fields.some((f) => createHmac('sha1', key).update(f).digest('base64') === hash)
}

export interface Replacement {
  text: string
  /** False when the file already says exactly this (a trailing newline aside). */
  changed: boolean
  /** What was taken out, one entry per line touched, as it was written. */
  removed: string[]
}

/**
 * Takes every line (or the names in a line's host list) that stands for `fields` out and puts
 * `lines` where the first of them was, or at the end. Hashed entries that match go too;
 * negations, patterns and other hosts' lines stay. @cert-authority lines always stay; @revoked
 * lines stay when keepRevoked (the controller's own file: a revoked old key remains revoked).
 * Deterministic, so running it on its own output changes nothing.
 */
export function replaceHostEntries(text: string, fields: string[], lines: string[], opts: { keepRevoked: boolean }): Replacement {
  const input = text.split('\n')
  if (input.length && input[input.length - 1] === '') input.pop()
  const out: string[] = []
  const removed: string[] = []
  let at = -1
  for (const raw of input) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) {
      out.push(raw)
      continue
    }
    const parts = line.split(/\s+/)
    const marker = parts[0].startsWith('@') ? parts.shift()! : undefined
    if (marker === '@cert-authority' || (marker === '@revoked' && opts.keepRevoked) || parts.length === 0) {
      out.push(raw)
      continue
    }
    const hosts = parts[0]
    if (hosts.startsWith('|')) {
      if (!hashedMatches(hosts, fields)) {
        out.push(raw)
        continue
      }
      removed.push(raw)
      if (at < 0) at = out.length
      continue
    }
    const names = hosts.split(',')
    const rest = names.filter((n) => !fields.includes(n))
    if (rest.length === names.length) {
      out.push(raw)
      continue
    }
    removed.push(raw)
    if (rest.length) {
      out.push([marker, rest.join(','), ...parts.slice(1)].filter(Boolean).join(' '))
      if (at < 0) at = out.length
    } else if (at < 0) at = out.length
  }
  out.splice(at < 0 ? out.length : at, 0, ...lines)
  const result = out.length ? out.join('\n') + '\n' : ''
  const before = text === '' || text.endsWith('\n') ? text : text + '\n'
  return { text: result, changed: result !== before, removed }
}

export interface PinnedLine {
  line: number
  field: string
  marker?: string
  type: string
  fingerprint: string
}

/** The key lines that stand for `fields` (literally, in a host list, or hashed), markers and all. */
export function pinnedLines(text: string, fields: string[]): PinnedLine[] {
  return knownHostsEntries(text).flatMap(({ line, marker, hosts, type, blob }) => {
    if (!type || !blob) return []
    const field = hosts.startsWith('|') ? (hashedMatches(hosts, fields) ? '(hashed)' : undefined) : hosts.split(',').find((n) => fields.includes(n))
    return field ? [{ line, field, marker, type, fingerprint: fingerprint(blob) }] : []
  })
}

/** The file's bytes now, or undefined when there is none (any other refusal: InputError, exit 2). */
export function readIfPresent(file: string): Buffer | undefined {
  if (!existsSync(file)) return undefined
  return readRegularFile(file, { label: `knownHostsFile ${file}`, maxBytes: MAX_BYTES.knownHosts })
}

/**
 * Replaces the file by rename (a reader sees the old file or the new one, never half of either),
 * through a symlink to its target, keeping its mode (0644 for a new file, as OpenSSH writes).
 * `before` is what the edit was computed from: a file changed since is not overwritten.
 */
export function writeFileAtomic(file: string, text: string, before: Buffer | undefined): void {
  const target = existsSync(file) ? realpathSync(file) : file
  const dir = path.dirname(target)
  mkdirSync(dir, { recursive: true })
  const mode = before !== undefined && existsSync(target) ? statSync(target).mode & 0o7777 : 0o644
  const tmp = path.join(dir, `.${path.basename(target)}.hapair-${process.pid}-${randomBytes(4).toString('hex')}`)
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    unlinkSync(tmp)
    throw e
  }
  closeSync(fd)
  try {
    chmodSync(tmp, mode)
    const now = readIfPresent(target)
    const same = now === undefined ? before === undefined : before !== undefined && now.equals(before)
    if (!same) throw new HapairError(`${file} changed while it was being updated (another writer?); nothing written to it: run again`)
    renameSync(tmp, target)
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {
      /* renamed or gone */
    }
    throw e
  }
  // The rename is durable only once the directory is.
  try {
    const d = openSync(dir, 'r')
    try {
      fsyncSync(d)
    } finally {
      closeSync(d)
    }
  } catch {
    /* not every file system syncs directories */
  }
}
