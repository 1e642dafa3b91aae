// Reading an error log from where the last verify stopped. Positions are inode + byte offset:
// a new inode or a shorter file means the log was rotated or truncated, and the rotated file
// (PATH.1, if it still has the old inode) is read to its end first so nothing is skipped.
// One run reads at most a byte budget; the offset saved is where it stopped, so a huge log is
// worked through over several runs instead of never.
import { Worker } from 'node:worker_threads'

export interface Offset {
  inode: number
  offset: number
  at: string
}

export const DEFAULT_SCAN_BYTES = 64 * 1024 * 1024
export const DEFAULT_SCAN_MS = 10_000

/**
 * Arguments: path, previous inode, previous offset, budget. Prints "ino size start rot oldLen curLen",
 * then exactly oldLen bytes of PATH.1 and curLen bytes of PATH (fewer only if a file shrank meanwhile).
 */
export const READ_LOG_SCRIPT = String.raw`f=$1; pi=$2; po=$3; budget=$4
if [ ! -e "$f" ]; then echo MISSING; exit 0; fi
set -- $(stat -L -c '%i %s' -- "$f"); ino=$1; size=$2
start=0; rot=-; old=0
if [ -n "$pi" ] && [ "$ino" = "$pi" ] && [ "$size" -ge "$po" ]; then start=$po
elif [ -n "$pi" ] && [ -f "$f.1" ] && [ "$(stat -L -c %i -- "$f.1")" = "$pi" ]; then rot=$(stat -L -c %s -- "$f.1")
fi
if [ "$rot" != - ] && [ "$rot" -gt "$po" ]; then old=$((rot - po)); fi
[ "$old" -gt "$budget" ] && old=$budget
cur=$((size - start)); [ "$cur" -gt $((budget - old)) ] && cur=$((budget - old))
echo "$ino $size $start $rot $old $cur"
if [ "$old" -gt 0 ]; then tail -c +$((po + 1)) -- "$f.1" | head -c "$old"; fi
if [ "$cur" -gt 0 ]; then tail -c +$((start + 1)) -- "$f" | head -c "$cur"; fi`

export interface LogRead {
  missing: boolean
  inode: number
  /** Byte offset the next run starts from: the end of the last complete line read. */
  nextOffset: number
  /** The rotated file PATH.1 still had the old inode and its rest was read. */
  rotated: boolean
  /** The current file was read from its first byte (first run, rotation or truncation). */
  restartedAt0: boolean
  /** The complete lines read, one byte per character (latin1), each ending in "\n"; decode with splitLines. */
  text: string
  /** Bytes of `text` that came from the rotated file (they come first). */
  oldBytes: number
  /** Bytes the budget left for the next run (0 when the log was read to its end). */
  leftBytes: number
  /** Where byte `p` of `text` lies, as the offset to save: lets a scan stopped early keep what it finished. */
  offsetAt(p: number): { inode: number; offset: number }
}

export function readLogArgs(path: string, prev?: Offset, budget = DEFAULT_SCAN_BYTES): string[] {
  return ['sh', '-c', READ_LOG_SCRIPT, 'readlog', path, prev ? String(prev.inode) : '', prev ? String(prev.offset) : '0', String(budget)]
}

/** The complete lines of a piece; a piece the budget cut that holds no newline at all is taken whole, so a read always advances. */
function completeLines(piece: string, finished: boolean): string {
  if (finished) return piece.length && !piece.endsWith('\n') ? piece + '\n' : piece
  const end = piece.lastIndexOf('\n') + 1
  return end > 0 ? piece.slice(0, end) : piece
}

/** Parses what READ_LOG_SCRIPT printed for `prev`, decoded as latin1 (one character per byte). */
export function parseLogRead(stdout: string, prev?: Offset): LogRead {
  if (stdout.startsWith('MISSING'))
    return {
      missing: true,
      inode: 0,
      nextOffset: 0,
      rotated: false,
      restartedAt0: false,
      text: '',
      oldBytes: 0,
      leftBytes: 0,
      offsetAt: () => ({ inode: 0, offset: 0 }),
    }
  const nl = stdout.indexOf('\n')
  const [ino, size, start, rot, oldLen] = stdout
    .slice(0, nl)
    .split(' ')
    .map((x) => (x === '-' ? -1 : Number(x)))
  if (nl < 0 || ![ino, size, start, rot, oldLen].every(Number.isFinite)) throw new Error(`unexpected log read: ${stdout.slice(0, 80)}`)
  const body = stdout.slice(nl + 1)
  const po = prev?.offset ?? 0
  const oldPiece = body.slice(0, oldLen)
  const curPiece = body.slice(oldLen)
  const oldCut = rot >= 0 && oldLen < rot - po
  // The rotated file is finished: its last line counts even without a newline, unless the budget cut it.
  const old = completeLines(oldPiece, !oldCut)
  const inOld = (p: number) => ({ inode: prev?.inode ?? ino, offset: po + Math.min(p, oldPiece.length) })
  if (oldCut) {
    return {
      missing: false,
      ...nextOf(inOld(old.length)),
      rotated: true,
      restartedAt0: start === 0,
      text: old,
      oldBytes: old.length,
      leftBytes: rot - po - old.length + (size - start),
      offsetAt: inOld,
    }
  }
  const curCut = start + curPiece.length < size
  // A writer may be halfway through the current file's last line: leave it for next time (a budget-cut line longer than the budget is taken whole).
  const cur = curCut ? completeLines(curPiece, false) : curPiece.slice(0, curPiece.lastIndexOf('\n') + 1)
  const offsetAt = (p: number) => (p < old.length ? inOld(p) : { inode: ino, offset: start + p - old.length })
  return {
    missing: false,
    ...nextOf(offsetAt(old.length + cur.length)),
    rotated: rot >= 0,
    restartedAt0: start === 0,
    text: old + cur,
    oldBytes: old.length,
    leftBytes: curCut ? size - start - cur.length : 0,
    offsetAt,
  }
}
const nextOf = (o: { inode: number; offset: number }) => ({ inode: o.inode, nextOffset: o.offset })

/** Lines of a latin1 text, decoded as UTF-8, empty ones dropped. */
export function splitLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.length)
    .map((l) => Buffer.from(l, 'latin1').toString('utf8'))
}

export interface Patterns {
  match: RegExp[]
  ignore: RegExp[]
}

/** Compiles the inventory's patterns (a SyntaxError for a bad one; the inventory validator and the check's validate reject those before any run). */
export function compilePatterns(patterns: string[], ignore: string[] = []): Patterns {
  return { match: patterns.map((p) => new RegExp(p)), ignore: ignore.map((p) => new RegExp(p)) }
}

export function matchLines(lines: string[], p: Patterns): string[] {
  return lines.filter((l) => p.match.some((r) => r.test(l)) && !p.ignore.some((r) => r.test(l)))
}

export interface ScanResult {
  /** The first matching lines (at most `keep`). */
  hits: string[]
  hitCount: number
  lineCount: number
  /** Bytes of the text fully scanned: all of it, unless the time bound stopped the scan. */
  scannedBytes: number
  /** The pattern that was running when the time bound ended the scan. */
  timedOutOn?: string
}

// Plain JS: a worker can be stopped in the middle of a regular expression, the main thread cannot.
const SCAN_WORKER = String.raw`
const { parentPort, workerData: w } = require('node:worker_threads')
const match = w.match.map((p) => new RegExp(p)), ignore = w.ignore.map((p) => new RegExp(p))
const at = new Int32Array(w.at)
const text = w.text, end = Date.now() + w.ms
let pos = 0, lines = 0, hitCount = 0, hits = []
const test = (list, base, l) => list.some((r, i) => { Atomics.store(at, 0, base + i); return r.test(l) })
while (pos < text.length) {
  let nl = text.indexOf('\n', pos)
  if (nl < 0) nl = text.length
  const line = Buffer.from(text.slice(pos, nl), 'latin1').toString('utf8')
  if (line.length) {
    lines++
    if (test(match, 0, line) && !test(ignore, match.length, line)) { hitCount++; if (hits.length < w.keep) hits.push(line) }
  }
  pos = Math.min(nl + 1, text.length)
  if (lines % 512 === 0) {
    parentPort.postMessage({ pos, lines, hitCount, hits })
    if (Date.now() > end) { Atomics.store(at, 0, -2); break }
  }
}
parentPort.postMessage({ pos, lines, hitCount, hits, done: true })
`

/** Matches every line of a latin1 text, in a worker stopped after `ms` (a pattern that backtracks forever cannot hang the run). */
export function scanText(text: string, patterns: string[], ignore: string[] = [], opts: { ms?: number; keep?: number } = {}): Promise<ScanResult> {
  const ms = opts.ms ?? DEFAULT_SCAN_MS
  const at = new SharedArrayBuffer(4)
  const all = [...patterns, ...ignore]
  return new Promise((resolve, reject) => {
    let last: ScanResult = { hits: [], hitCount: 0, lineCount: 0, scannedBytes: 0 }
    const worker = new Worker(SCAN_WORKER, { eval: true, workerData: { text, match: patterns, ignore, ms, keep: opts.keep ?? 20, at } })
    const stopAt = () => {
      const i = new Int32Array(at)[0]
      return i === -2 ? 'the whole scan' : (all[i] ?? '?')
    }
    // The worker checks the clock between lines; this catches a single line it never finishes.
    const hard = setTimeout(() => {
      void worker.terminate()
      resolve({ ...last, timedOutOn: stopAt() })
    }, ms + 1000)
    worker.on('message', (m: { pos: number; lines: number; hitCount: number; hits: string[]; done?: boolean }) => {
      last = { hits: m.hits, hitCount: m.hitCount, lineCount: m.lines, scannedBytes: m.pos }
      if (!m.done) return
      clearTimeout(hard)
      void worker.terminate()
      resolve(m.pos < text.length ? { ...last, timedOutOn: stopAt() } : last)
    })
    worker.on('error', (e) => {
      clearTimeout(hard)
      reject(e)
    })
  })
}
