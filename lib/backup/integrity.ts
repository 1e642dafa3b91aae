// Reading a backup end to end, as restic check --read-data and borg check --verify-data do:
// the compressor's own CRC over every byte, the tar listing over every member, and the
// archive's sha256 against the checksum file the backup ships.
import { hashers, HASHES_OUT, LISTING_END, LISTING_FIELDS } from '../listing.ts'
import { sh } from '../shell.ts'

/** Starts each line of the restore meter on stderr (restoreScript's meterSec). */
export const RESTORED_PREFIX = 'hapair-restored'

/** The meter's readings in a stretch of stderr, and that stderr without them (the errors alone). */
export function splitRestoreMeter(stderr: string): { bytes: number[]; rest: string } {
  const bytes: number[] = []
  const rest = stderr
    .split('\n')
    .filter((l) => {
      const m = new RegExp(`^${RESTORED_PREFIX} (\\d+)$`).exec(l)
      if (m) bytes.push(Number(m[1]))
      return !m
    })
    .join('\n')
  return { bytes, rest }
}

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
 *
 * meterSec: while the archive is extracted, a line "RESTORED_PREFIX <bytes>" on stderr every
 * meterSec seconds with the bytes of the files written so far: what the node can measure of a
 * restore, where tar itself says nothing until it is done.
 */
export function restoreScript(archive: string, kind: ArchiveKind, needBytes: number, hash: boolean, meterSec?: number): string {
  const extract = kind.tar
    ? sh`tar -xf ${archive} -C "$d/r" --no-same-owner --no-same-permissions`
    : sh`${kind.compressor!} -dc -- ${archive}` + ' > "$d/r/content"'
  // The meter is killed before the script exits, whatever the exit: a background child holding stderr would keep the channel open.
  const meter =
    meterSec === undefined
      ? []
      : [
          `( while sleep ${Math.max(0.1, meterSec).toFixed(1)}; do printf '${RESTORED_PREFIX} %s\n' "$(find "$d/r" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')" >&2; done ) &`,
          'm=$!',
          `trap 'kill "$m" 2>/dev/null; rm -rf "$d"' EXIT`,
        ]
  return [
    'export LC_ALL=C',
    `d=$(mktemp -d "\${TMPDIR:-/var/tmp}/hapair-restore.XXXXXX") || { echo "cannot create a scratch directory" >&2; exit 90; }`,
    `trap 'rm -rf "$d"' EXIT`,
    `trap 'exit 129' HUP INT TERM PIPE`,
    'mkdir "$d/r"',
    `avail=$(df -Pk "$d" | awk 'NR==2 {print $4}')`,
    `if [ "$((avail * 1024))" -lt ${Math.ceil(needBytes * 1.1)} ]; then echo "scratch $d has $((avail / 1024)) MiB free, the restore needs ${Math.ceil(needBytes / 1048576)} MiB: set TMPDIR for the node's login" >&2; exit 92; fi`,
    ...meter,
    `${extract} || exit 91`,
    ...(meterSec === undefined ? [] : ['kill "$m" 2>/dev/null']),
    'cd "$d/r"',
    sh`find . -mindepth 1 -printf ${LISTING_FIELDS}`,
    `printf '${LISTING_END}\\0'`,
    hash ? `find . -type f -print0 | ${hashers(64)}; ${HASHES_OUT}` : 'true',
    'exit 0',
  ].join('\n')
}
