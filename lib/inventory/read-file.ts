// Reading the files an operator names (the inventory, SSH keys, known_hosts) without trusting them:
// a FIFO blocks a plain read forever, /dev/zero fills memory, a stray binary decodes to garbage.
// Every refusal is an InputError (exit 2) that names the file and says what it is instead.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'
import { InputError } from '../errors.ts'

/** Far above any real file of each kind, far below what hurts a controller. */
export const MAX_BYTES = { inventory: 8 << 20, key: 64 << 10, knownHosts: 16 << 20 } as const

/** A file that could not be read or was refused; `code` and `path` are set when the OS refused. */
export class FileRefusedError extends InputError {
  constructor(
    message: string,
    readonly code?: string,
    readonly path?: string,
  ) {
    super(message)
  }
}

const ERRNO: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'file exists',
  EBUSY: 'device or resource busy',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  EXDEV: 'not on the same file system',
}

/** "permission denied (EACCES)": the OS's refusal in words, for one-line messages. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT') return ERRNO.ENOENT
  return code ? `${ERRNO[code] ?? 'refused'} (${code})` : String((e as Error)?.message ?? e)
}

export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a named pipe (FIFO)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a regular file'
}

export interface ReadOptions {
  /** How messages start, e.g. "inv.json: cannot read inventory" or "keyFile /k". */
  label: string
  maxBytes: number
}

/**
 * The bytes of a regular file of at most maxBytes. Opened non-blocking so a FIFO cannot hang the
 * open, checked with fstat on that same descriptor, and read with a cap rather than trusting
 * st.size (files in /proc say 0 and are not).
 */
export function readRegularFile(file: string, o: ReadOptions): Buffer {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (e) {
    throw new FileRefusedError(`${o.label}: ${errnoText(e)}`, (e as NodeJS.ErrnoException).code, file)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new FileRefusedError(`${o.label}: not a regular file (${fileKind(st)})`)
    if (st.size > o.maxBytes) throw new FileRefusedError(`${o.label}: too large (${st.size} bytes, at most ${o.maxBytes})`)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(64 << 10, o.maxBytes + 1 - total))
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      chunks.push(buf.subarray(0, n))
      total += n
      if (total > o.maxBytes) throw new FileRefusedError(`${o.label}: too large (more than ${o.maxBytes} bytes)`)
    }
    return Buffer.concat(chunks, total)
  } catch (e) {
    if (e instanceof FileRefusedError) throw e
    throw new FileRefusedError(`${o.label}: ${errnoText(e)}`, (e as NodeJS.ErrnoException).code, file)
  } finally {
    closeSync(fd)
  }
}

/** Where the first byte that is not UTF-8 sits, as line and column (1-based). */
function badUtf8At(buf: Buffer): string {
  const again = Buffer.from(buf.toString('utf8'), 'utf8')
  let i = 0
  while (i < buf.length && buf[i] === again[i]) i++
  const before = buf.subarray(0, i)
  const line = before.filter((b) => b === 0x0a).length + 1
  return `line ${line}, byte ${i - (before.lastIndexOf(0x0a) + 1) + 1}`
}

/** Strict UTF-8: a replaced byte would silently change a path, a name or a command. */
export function decodeUtf8(buf: Buffer, label: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf)
  } catch {
    throw new FileRefusedError(`${label}: not valid UTF-8 text (first bad byte at ${badUtf8At(buf)})`)
  }
}

// One read per file per run, however many nodes share it. Keyed by the file's identity as well as its
// name, so a file replaced during a long run (a re-pinned known_hosts) is read again.
const cache = new Map<string, { bytes?: Buffer; error?: unknown }>()

export function readRegularFileOnce(file: string, o: ReadOptions): Buffer {
  let id: string
  try {
    const st = statSync(file)
    id = `${file}\u0000${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
  } catch {
    return readRegularFile(file, o) // reports the OS's reason with the label
  }
  let hit = cache.get(id)
  if (!hit) {
    try {
      hit = { bytes: readRegularFile(file, o) }
    } catch (error) {
      hit = { error }
    }
    cache.set(id, hit)
  }
  if (hit.error) throw hit.error
  return hit.bytes!
}
