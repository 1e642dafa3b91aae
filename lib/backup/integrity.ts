// Reading a backup end to end, as restic check --read-data and borg check --verify-data do:
// the compressor's own CRC over every byte, the tar listing over every member, and the
// archive's sha256 against the checksum file the backup ships.
import { hashers, HASHES_OUT, LISTING_END, LISTING_FIELDS } from '../listing.ts'
import { sh } from '../shell.ts'

export type ArchiveKind = { tar: boolean; compressor?: 'gzip' | 'xz' | 'zstd' | 'bzip2' }

export function archiveKind(name: string): ArchiveKind | undefined {
  const n = name.toLowerCase()
  const comp = /\.(t?gz)$/.test(n) ? 'gzip' : /\.(t?xz|txz)$/.test(n) ? 'xz' : /\.(zst|tzst)$/.test(n) ? 'zstd' : /\.(bz2|tbz2?)$/.test(n) ? 'bzip2' : undefined
  const tar = /\.tar(\.[a-z0-9]+)?$/.test(n) || /\.t(gz|xz|zst|bz2?)$/.test(n)
  if (!tar && !comp) return undefined
  return { tar, compressor: comp }
}

/** Exit status of the decompressor's test, then the listing; one script, so one round trip. */
export function readThroughScript(archive: string, kind: ArchiveKind): string {
  const test = kind.compressor ? sh`${kind.compressor} -t -- ${archive}` : 'true'
  const list = kind.tar ? sh`tar -tvf ${archive}` : 'true'
  // Errors go to stdout after a marker line, so the controller sees which step failed and why.
  return (
    `export LC_ALL=C; out=$(${test} 2>&1) || { echo "FAIL test: $(printf '%s' "$out" | grep . | tail -n 2 | tr '\\n' ' ')"; exit 0; }; ` +
    `lst=$(${list} 2>&1) || { echo "FAIL list: $(printf '%s' "$lst" | grep -v '^[-dlhcbps][-rwxsStT]' | tail -n 2 | tr '\\n' ' ')"; exit 0; }; echo OK; printf '%s\\n' "$lst"`
  )
}

export interface ReadThrough {
  ok: boolean
  error?: string
  listing: string
}

export function parseReadThrough(stdout: string): ReadThrough {
  const nl = stdout.indexOf('\n')
  const head = nl < 0 ? stdout : stdout.slice(0, nl)
  if (head === 'OK') return { ok: true, listing: stdout.slice(nl + 1) }
  return { ok: false, error: head.replace(/^FAIL /, '').trim() || 'unreadable', listing: '' }
}

/** The digest sha256sum recorded for `name` (by basename), if the checksum file has a line for it. */
export function checksumFor(checksumText: string, name: string): string | undefined {
  for (const line of checksumText.split('\n')) {
    const m = /^\\?([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim())
    if (!m) continue
    const file = m[2].replace(/^.*\//, '')
    if (file === name) return m[1].toLowerCase()
  }
  return undefined
}

/**
 * Extract into a fresh scratch directory on the node, list and (when the manifest has digests)
 * hash what came out in the tree listing format (lib/listing.ts), and remove the scratch
 * whatever happens. Refuses to start when the scratch filesystem cannot hold the listed size:
 * a test restore must not fill a production disk.
 */
export function restoreScript(archive: string, kind: ArchiveKind, needBytes: number, hash: boolean): string {
  const extract = kind.tar
    ? sh`tar -xf ${archive} -C "$d/r" --no-same-owner --no-same-permissions`
    : sh`${kind.compressor!} -dc -- ${archive}` + ' > "$d/r/content"'
  return [
    'export LC_ALL=C',
    `d=$(mktemp -d "\${TMPDIR:-/var/tmp}/hapair-restore.XXXXXX") || { echo "cannot create a scratch directory" >&2; exit 90; }`,
    `trap 'rm -rf "$d"' EXIT`,
    `trap 'exit 129' HUP INT TERM PIPE`,
    'mkdir "$d/r"',
    `avail=$(df -Pk "$d" | awk 'NR==2 {print $4}')`,
    `if [ "$((avail * 1024))" -lt ${Math.ceil(needBytes * 1.1)} ]; then echo "scratch $d has $((avail / 1024)) MiB free, the restore needs ${Math.ceil(needBytes / 1048576)} MiB: set TMPDIR for the node's login" >&2; exit 92; fi`,
    `${extract} || exit 91`,
    'cd "$d/r"',
    sh`find . -mindepth 1 -printf ${LISTING_FIELDS}`,
    `printf '${LISTING_END}\\0'`,
    hash ? `find . -type f -print0 | ${hashers(64)}; ${HASHES_OUT}` : 'true',
    'exit 0',
  ].join('\n')
}
