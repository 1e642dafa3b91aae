// What is in a backup directory: the archives matching the pattern, the newest by finish
// time (mtime: the moment the writer closed it), and the node's own clock, so ages are measured
// on the node and a skewed controller cannot make a fresh backup look stale.
import type { Backup } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import { ago, iecBytes, isoSeconds } from '../format.ts'

/** A PostgreSQL backup (b.postgresql) is a directory: `files` are its members, mtime the newest, size the sum. */
export interface Archive {
  name: string
  mtime: number
  size: number
  files?: string[]
}
export interface Listing {
  now: number
  missingDir: boolean
  archives: Archive[]
}

export const backupDefaults = (b: Backup) => ({ pattern: b.pattern ?? (b.postgresql ? '*' : '*.tar.gz'), maxAgeHours: b.maxAgeHours ?? 26 })

/** pg_basebackup -Ft names the main archive base.tar[.gz|.zst|.lz4]. */
export const PG_BASE = /^base\.tar(\.[a-z0-9]+)?$/

/**
 * First line: the node's clock; then one NUL-terminated "mtime/size/name" per archive, or MISSING.
 * A PostgreSQL backup lists the files one level down, "mtime/size/dir/file".
 */
export function listScript(b: Backup): string {
  const { pattern } = backupDefaults(b)
  const head = sh`date +%s; if [ ! -d ${b.path} ]; then echo MISSING; exit 0; fi; `
  if (b.postgresql) return head + sh`cd ${b.path} && find . -mindepth 2 -maxdepth 2 -type f -path ${`./${pattern}/*`} -printf '%T@/%s/%P\\0'`
  return head + sh`find ${b.path} -mindepth 1 -maxdepth 1 -type f -name ${pattern} -printf '%T@/%s/%f\\0'`
}

/**
 * One archive per backup directory that holds a base.tar*: finished when its newest file was
 * (pg_basebackup writes backup_manifest last), sized as the sum. A directory that still holds
 * backup_manifest.tmp is being written and is left out.
 */
function pgBackupDirs(files: Archive[]): Archive[] {
  const dirs = new Map<string, Archive & { files: string[] }>()
  for (const f of files) {
    const i = f.name.indexOf('/')
    if (i <= 0) continue
    const dir = f.name.slice(0, i)
    const d = dirs.get(dir) ?? { name: dir, mtime: 0, size: 0, files: [] }
    d.mtime = Math.max(d.mtime, f.mtime)
    d.size += f.size
    d.files.push(f.name.slice(i + 1))
    dirs.set(dir, d)
  }
  return [...dirs.values()]
    .filter((d) => d.files.some((f) => PG_BASE.test(f)) && !d.files.includes('backup_manifest.tmp'))
    .map((d) => ({ ...d, files: d.files.sort() }))
}

export function parseBackupListing(stdout: string, b?: Backup): Listing {
  const nl = stdout.indexOf('\n')
  const now = Number(stdout.slice(0, nl))
  if (!Number.isFinite(now) || nl < 0) throw new Error(`unexpected listing: ${stdout.slice(0, 80)}`)
  const rest = stdout.slice(nl + 1)
  if (rest.startsWith('MISSING')) return { now, missingDir: true, archives: [] }
  const records = rest
    .split('\0')
    .filter(Boolean)
    .map((rec) => {
      const [m, s, ...name] = rec.split('/')
      return { name: name.join('/'), mtime: Number(m), size: Number(s) }
    })
  const archives = b?.postgresql ? pgBackupDirs(records) : records
  // Newest first; equal times by name, so app-…T0100 beats app-…T0000 written in the same second.
  archives.sort((a, b) => b.mtime - a.mtime || b.name.localeCompare(a.name))
  return { now, missingDir: false, archives }
}

export interface Judged {
  present: { ok: boolean; detail: string }
  age: { ok: boolean; detail: string }
  size: { ok: boolean; detail: string }
  newest?: Archive
}

export function judgeListing(b: Backup, l: Listing): Judged {
  const { pattern, maxAgeHours } = backupDefaults(b)
  const none = { ok: false, detail: 'no backup to check' }
  if (l.missingDir)
    return { present: { ok: false, detail: `${b.path} does not exist: check the backup job and the path in the inventory` }, age: none, size: none }
  const newest = l.archives[0]
  const what = b.postgresql ? `pg_basebackup directory (${pattern}, holding base.tar*)` : pattern
  if (!newest) return { present: { ok: false, detail: `no ${what} in ${b.path}: the backup job has not written any` }, age: none, size: none }
  const ageS = l.now - newest.mtime
  const finished = `${newest.name} finished ${isoSeconds(newest.mtime)} (${ago(ageS)} ago)`
  const age =
    ageS <= maxAgeHours * 3600
      ? { ok: true, detail: `${finished}, max ${maxAgeHours} h` }
      : { ok: false, detail: `newest ${finished}, older than ${maxAgeHours} h: the backup job has not run; check its timer and log` }
  const tooSmall = b.minBytes !== undefined && newest.size < b.minBytes
  const tooBig = b.maxBytes !== undefined && newest.size > b.maxBytes
  const bounds = `${b.minBytes !== undefined ? iecBytes(b.minBytes) : '0'}..${b.maxBytes !== undefined ? iecBytes(b.maxBytes) : 'any'}`
  const size =
    tooSmall || tooBig
      ? {
          ok: false,
          detail: `${newest.name} is ${iecBytes(newest.size)} (${newest.size} bytes), outside ${bounds}: ${tooSmall ? 'an empty or truncated backup' : 'unexpected growth'}; look inside it`,
        }
      : { ok: true, detail: `${newest.name} ${iecBytes(newest.size)} (bounds ${bounds})` }
  return { present: { ok: true, detail: `${l.archives.length} archive${l.archives.length > 1 ? 's' : ''}, newest ${newest.name}` }, age, size, newest }
}
