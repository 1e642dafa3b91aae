// Reports are written whole or not at all: node_exporter and CI may read the file at any
// moment, and a half-written metrics file is read as "every check vanished".
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import path from 'node:path'
import { HapairError } from '../errors.ts'

/** Temp file in the same directory (rename is atomic only within one filesystem), fsync, rename. */
export function writeFileAtomic(file: string, text: string): void {
  const abs = path.resolve(file)
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp.${process.pid}`)
  let fd: number | undefined
  try {
    fd = openSync(tmp, 'w', 0o644)
    writeSync(fd, text)
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, abs)
  } catch (e) {
    if (fd !== undefined) closeSync(fd)
    rmSync(tmp, { force: true })
    const err = e as NodeJS.ErrnoException
    // The checks have run by now (destinations were checked before): a failure here is exit 1, not bad input.
    throw new HapairError(`${file}: cannot write report: ${err.code === 'ENOENT' ? 'no such directory' : (err.code ?? err.message)}`)
  }
}

/** The file's text, or '' when there is none yet. */
export function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
