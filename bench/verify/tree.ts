// The benchmark's data: a deterministic tree written straight into a lab node's /srv from the
// host side (the node's root is a plain directory here), identical bytes and mtimes on every
// node, as a finished sync leaves them. Many small files and some large ones, like real data.
import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, utimesSync, writeSync } from 'node:fs'
import path from 'node:path'

export interface TreeSpec {
  files: number
  perDir: number
  bigEvery: number
  bigBytes: number
  smallMax: number
  mtime: number
}

export const DEFAULT_TREE: TreeSpec = { files: 100_000, perDir: 1000, bigEvery: 100, bigBytes: 1 << 20, smallMax: 40_000, mtime: 1714600000 }

/** Size of file i: every bigEvery-th is big, the rest spread over 1..smallMax bytes. */
export const sizeOf = (s: TreeSpec, i: number) => (i % s.bigEvery === 0 ? s.bigBytes : 1 + ((i * 7919) % s.smallMax))
export const totalBytes = (s: TreeSpec) => Array.from({ length: s.files }, (_, i) => sizeOf(s, i)).reduce((a, b) => a + b, 0)

/** Writes the tree under dir; the same pool gives the same bytes on every node. */
export function writeTree(dir: string, s: TreeSpec, pool: Buffer): void {
  for (let i = 0; i < s.files; i++) {
    const sub = path.join(dir, `d${String(Math.floor(i / s.perDir)).padStart(3, '0')}`)
    if (i % s.perDir === 0) mkdirSync(sub, { recursive: true })
    const file = path.join(sub, `f${i}.dat`)
    const size = sizeOf(s, i)
    // A header makes every file distinct; the body is a window into the pool.
    const head = Buffer.from(`file ${i}\n`)
    const off = (i * 104729) % (pool.length - size)
    const fd = openSync(file, 'w')
    writeSync(fd, head, 0, Math.min(head.length, size))
    if (size > head.length) writeSync(fd, pool, off, size - head.length)
    closeSync(fd)
    utimesSync(file, s.mtime, s.mtime)
  }
}

export const makePool = (bytes = 8 << 20) => randomBytes(bytes)
