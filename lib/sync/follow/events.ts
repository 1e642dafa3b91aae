// What the node-side watcher says, as data. inotifywait prints one record per event,
// `EVENTS|PATH` ended by a NUL byte (a file name may hold a newline, never a NUL). Names are
// kept as byte strings (latin1: one character per byte), so a name that is not valid UTF-8
// still reaches rsync exactly; display() turns one into text for a person. Pure.

/** What a change asks of the next batch. tree: a directory that appeared (its contents may predate its watch). open: created, not closed yet. */
export type Change = 'changed' | 'tree' | 'open' | 'gone'

export type WatchEvent =
  | { kind: 'change'; rel: string; change: Change; dir: boolean }
  /** The kernel dropped events (queue overflow) or a watch could not be added: only a full pass is exact again. */
  | { kind: 'overflow'; why: string }
  /** The item's own directory went away or was moved. */
  | { kind: 'root-gone'; why: string }

/** The events the watcher asks for; the format keeps names with newlines whole. */
export const WATCH_EVENTS = 'close_write,create,delete,moved_to,moved_from,attrib'
export const WATCH_FORMAT = '%e|%w%f%0'

export const display = (bytes: string) => Buffer.from(bytes, 'latin1').toString('utf8')
export const asBytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1')

/** Splits the watcher's stdout into records; a record cut across chunks is kept for the next one. */
export class RecordSplitter {
  private rest = ''
  push(chunk: Buffer): string[] {
    const text = this.rest + chunk.toString('latin1')
    const parts = text.split('\0')
    this.rest = parts.pop() ?? ''
    return parts
  }
}

/** One record of the item rooted at `root` (the watched path as given to inotifywait, as bytes). */
export function parseEvent(record: string, root: string): WatchEvent | undefined {
  const bar = record.indexOf('|')
  if (bar < 0) return undefined
  const names = record.slice(0, bar).split(',')
  const full = record.slice(bar + 1)
  if (names.includes('Q_OVERFLOW')) return { kind: 'overflow', why: "the kernel's inotify queue overflowed (events were dropped)" }
  const base = root.endsWith('/') ? root : root + '/'
  if (names.includes('DELETE_SELF') || names.includes('MOVE_SELF') || names.includes('UNMOUNT')) {
    if (full === base || full === root || full === base.slice(0, -1))
      return { kind: 'root-gone', why: `${display(root)} was ${names.includes('UNMOUNT') ? 'unmounted' : 'removed or moved'}` }
    return undefined
  }
  if (!full.startsWith(base)) return undefined
  const rel = full.slice(base.length).replace(/\/+$/, '')
  // The root's own attributes: the next full pass carries them; shipping "." would be one.
  if (!rel) return undefined
  const dir = names.includes('ISDIR')
  const has = (n: string) => names.includes(n)
  let change: Change
  if (has('DELETE') || has('MOVED_FROM')) change = 'gone'
  else if (dir && (has('CREATE') || has('MOVED_TO'))) change = 'tree'
  else if (has('CREATE') && !has('CLOSE_WRITE')) change = 'open'
  else if (has('CLOSE_WRITE') || has('MOVED_TO') || has('ATTRIB') || has('CREATE')) change = 'changed'
  else return undefined
  return { kind: 'change', rel, change, dir }
}

/** A stderr line of inotifywait that means events will be missing from now on. */
export function watchTrouble(line: string): string | undefined {
  if (/upper limit on inotify watches reached|No space left on device|Couldn't watch new directory|Failed to watch/i.test(line)) {
    return `a watch could not be added (${line.trim()}); raise fs.inotify.max_user_watches`
  }
  return undefined
}

/** The change after `next` follows `prev` for the same path, before either was shipped. */
export function merge(prev: Change | undefined, next: Change): Change {
  if (prev === 'tree' && next === 'changed') return 'tree' // an attribute change on a directory that appeared
  if (prev === 'changed' && next === 'open') return 'changed' // cannot happen without a delete between; stay safe
  return next
}
