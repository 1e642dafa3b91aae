// Reading an error log from where the last verify stopped. Positions are inode + byte offset:
// a new inode or a shorter file means the log was rotated or truncated, and the rotated file
// (PATH.1, if it still has the old inode) is read to its end first so nothing is skipped.
export interface Offset { inode: number; offset: number; at: string }

/** Arguments: path, previous inode, previous offset (empty when none). */
export const READ_LOG_SCRIPT = String.raw`f=$1; pi=$2; po=$3
if [ ! -e "$f" ]; then echo MISSING; exit 0; fi
set -- $(stat -L -c '%i %s' -- "$f"); ino=$1; size=$2
start=0; rot=-
if [ -n "$pi" ] && [ "$ino" = "$pi" ] && [ "$size" -ge "$po" ]; then start=$po
elif [ -n "$pi" ] && [ -f "$f.1" ] && [ "$(stat -L -c %i -- "$f.1")" = "$pi" ]; then rot=$(stat -L -c %s -- "$f.1")
fi
echo "$ino $size $start $rot"
if [ "$rot" != - ] && [ "$rot" -gt "$po" ]; then tail -c +$((po + 1)) -- "$f.1" | head -c $((rot - po)); fi
printf '\036'
if [ "$size" -gt "$start" ]; then tail -c +$((start + 1)) -- "$f" | head -c $((size - start)); fi`

export interface LogRead {
  missing: boolean
  inode: number
  /** Byte offset the next run starts from: the end of the last complete line read. */
  nextOffset: number
  /** The rotated file PATH.1 still had the old inode and its rest was read. */
  rotated: boolean
  /** The current file was read from its first byte (first run, rotation or truncation). */
  restartedAt0: boolean
  /** Complete lines, rotated remainder first. */
  lines: string[]
}

export function readLogArgs(path: string, prev?: Offset): string[] {
  return ['sh', '-c', READ_LOG_SCRIPT, 'readlog', path, prev ? String(prev.inode) : '', prev ? String(prev.offset) : '0']
}

export function parseLogRead(stdout: string): LogRead {
  if (stdout.startsWith('MISSING')) return { missing: true, inode: 0, nextOffset: 0, rotated: false, restartedAt0: false, lines: [] }
  const nl = stdout.indexOf('\n')
  const [ino, size, start, rot] = stdout.slice(0, nl).split(' ')
  const body = stdout.slice(nl + 1)
  const sep = body.indexOf('\x1e')
  if (nl < 0 || sep < 0 || !Number.isFinite(Number(ino))) throw new Error(`unexpected log read: ${stdout.slice(0, 80)}`)
  const old = body.slice(0, sep)
  const cur = body.slice(sep + 1)
  // The rotated file is finished: its last line counts even without a newline.
  const lines = old.split('\n').filter((l, i, a) => l.length || i < a.length - 1)
  // A writer may be halfway through the current file's last line: leave it for next time.
  const end = cur.lastIndexOf('\n') + 1
  lines.push(...cur.slice(0, end).split('\n').slice(0, -1))
  const partial = Buffer.byteLength(cur.slice(end))
  return { missing: false, inode: Number(ino), nextOffset: Number(size) - partial, rotated: rot !== '-', restartedAt0: Number(start) === 0, lines: lines.filter((l) => l.length) }
}

export interface Patterns { match: RegExp[]; ignore: RegExp[] }

/** Compiles the inventory's patterns (a SyntaxError for a bad one; the inventory validator and the check's validate reject those before any run). */
export function compilePatterns(patterns: string[], ignore: string[] = []): Patterns {
  return { match: patterns.map((p) => new RegExp(p)), ignore: ignore.map((p) => new RegExp(p)) }
}

export function matchLines(lines: string[], p: Patterns): string[] {
  return lines.filter((l) => p.match.some((r) => r.test(l)) && !p.ignore.some((r) => r.test(l)))
}
