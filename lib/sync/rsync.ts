// The rsync hop, as data: the argument vector (never a shell string), what its exit codes mean,
// and its --stats and itemised output parsed into numbers. Pure; run-rsync.ts does the I/O.
import type { SyncItem } from '../inventory/schema.ts'
import { PARTIAL_DIR, protectRules } from './filters.ts'
import { rsyncPath, type Become } from '../become.ts'

export { PARTIAL_DIR }

export interface HopTarget {
  user: string
  address: string
  port: number
  /** The only name ssh looks the target's key up by (pin.ts hostKeyAlias): no other line can match. */
  hostKeyAlias: string
  /** The target's ssh.become: its receiving rsync runs as root through sudo. */
  become?: Become
}

export interface RsyncOptions {
  item: SyncItem
  /** Protected paths relative to the item root. */
  protect: string[]
  target: HopTarget
  /** Node-to-node key on the source node; absent: ssh's default identity. */
  keyFile?: string
  /** known_hosts on the source node that pins the target's host key. */
  knownHostsFile: string
  dryRun?: boolean
  /** Mirror items: delete nothing in the transfer, only count (--max-delete=0); see delete-guard.ts. */
  holdDeletes?: boolean
  /** Give up when no data moves for this long (a dropped link), in seconds. */
  ioTimeoutSec: number
  /** The transfer also streams rsync's --info=progress2 records (lib/sync/progress.ts splits them out). */
  progress?: boolean
}

export const partialDir = (item: SyncItem) => `${item.path.replace(/\/+$/, '')}/${PARTIAL_DIR}`

/**
 * The ssh command rsync uses for the hop. rsync splits -e on spaces (honouring quotes), so
 * paths with spaces or quotes are refused up front (see hopProblems) rather than escaped.
 * Trust is exactly the alias's lines in hapair's own file: -F /dev/null keeps every ssh_config
 * (~/.ssh/config, /etc/ssh) out, so no ProxyCommand, KnownHostsCommand or other file can widen
 * it; CheckHostIP=no and UpdateHostKeys=no keep ssh from reading or writing address lines.
 */
export function sshCommand(o: Pick<RsyncOptions, 'keyFile' | 'knownHostsFile' | 'target' | 'ioTimeoutSec'>): string {
  const words = ['ssh', '-F', '/dev/null']
  if (o.keyFile) words.push('-i', o.keyFile, '-o', 'IdentitiesOnly=yes')
  words.push(
    '-o',
    `HostKeyAlias=${o.target.hostKeyAlias}`,
    '-o',
    `UserKnownHostsFile=${o.knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'CheckHostIP=no',
    '-o',
    'UpdateHostKeys=no',
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${Math.max(1, Math.min(10, o.ioTimeoutSec))}`,
    '-o',
    'ServerAliveInterval=5',
    '-o',
    `ServerAliveCountMax=${Math.max(1, Math.ceil(o.ioTimeoutSec / 5))}`,
    '-p',
    String(o.target.port),
  )
  return words.join(' ')
}

/** Paths that cannot go into rsync's -e value safely. */
export function hopProblems(paths: { keyFile?: string; knownHostsFile?: string }): string[] {
  const bad = (p?: string) => p !== undefined && /[\s'"\\]/.test(p)
  const out: string[] = []
  if (!paths.knownHostsFile) out.push("sync.nodeKnownHostsFile is required for rsync items: the node-to-node hop must pin the target's host key")
  if (bad(paths.keyFile)) out.push(`sync.nodeKeyFile must not contain spaces, quotes or backslashes (got ${JSON.stringify(paths.keyFile)})`)
  if (bad(paths.knownHostsFile))
    out.push(`sync.nodeKnownHostsFile must not contain spaces, quotes or backslashes (got ${JSON.stringify(paths.knownHostsFile)})`)
  return out
}

const slash = (p: string) => (p.endsWith('/') ? p : p + '/')

/**
 * Times compared to the nanosecond (receiver rsync 3.1.3 or later; an older one compares seconds).
 * rsync's default quick check compares whole seconds, so a file rewritten with the same size in
 * the second of its last copy (a config saved twice, a file replaced continuously) would stay
 * stale on the target until it changed again, and no later pass would notice.
 */
export const MODIFY_WINDOW = '--modify-window=-1'

/** The options every pass of an item shares: archive mode, names in the protocol, the pinned hop. */
function baseArgv(o: RsyncOptions, extra: string[] = []): string[] {
  return [
    'rsync',
    '-a', // recursive; links, permissions, times, owner, group, devices
    '-s', // file names travel inside the protocol, never through the remote shell
    '-8', // non-ASCII names as they are in the itemised list
    MODIFY_WINDOW,
    ...extra,
    '--stats',
    '--no-human-readable',
    `--timeout=${o.ioTimeoutSec}`, // a cut link ends the transfer (exit 30) instead of hanging
    '-e',
    sshCommand(o),
    ...remoteRsync(o.target),
  ]
}

/** --rsync-path for a target logged into as a non-root user (ssh.become); nothing otherwise. */
export function remoteRsync(target: HopTarget): string[] {
  const p = rsyncPath(target.become ?? 'none')
  return p ? [`--rsync-path=${p}`] : []
}

/** Protect and exclude rules: the same in every pass, so no pass reaches a protected or excluded path. */
function filterRules(o: RsyncOptions): string[] {
  const argv = protectRules([PARTIAL_DIR, ...o.protect]) // never sent, never deleted
  for (const x of o.item.exclude ?? []) argv.push(`--exclude=${x}`)
  return argv
}
const ends = (o: RsyncOptions) => ['--', slash(o.item.path), `${o.target.user}@${o.target.address}:${slash(o.item.path)}`]

/** The argument vector run on the source node. */
export function rsyncArgv(o: RsyncOptions): string[] {
  // Each file arrives under a hidden temporary name beside the real one and is renamed over
  // it when complete (rsync's default; never --inplace), so no half-written file is visible.
  // --delay-updates would also hold every rename to the end, at twice the cost of a first copy.
  // An interrupted file is kept in one directory at the item's root and the next run resumes
  // from it. (A relative --partial-dir, one per directory, costs a fifth more on a no-change
  // run of 20,000 files; rsync verifies every file's checksum whatever basis it resumed from.)
  const argv = baseArgv(o, [`--partial-dir=${partialDir(o.item)}`])
  if (o.item.mirror) {
    argv.push('--delete-delay') // deletions after the transfer, so the old tree stays whole until then
    // Held back: rsync deletes nothing, counts what it would have (exit 25), and the delete
    // guard decides (lib/sync/delete-guard.ts). Costs nothing when nothing is to be deleted.
    if (o.holdDeletes && !o.dryRun) argv.push('--max-delete=0')
  }
  argv.push(...filterRules(o))
  if (o.dryRun) argv.push('--dry-run', '--out-format=%i %n%L')
  else if (o.progress) argv.push('--info=progress2')
  argv.push(...ends(o))
  return argv
}

/**
 * The deletion-only pass after a transfer that held its deletions back: --existing and
 * --ignore-existing send nothing, --delete removes what the source lacks, the same filters keep
 * protected and excluded paths. dryRun: the itemised list of what it would delete.
 */
export function deleteArgv(o: RsyncOptions, dryRun: boolean): string[] {
  const argv = [...baseArgv(o), '--delete', '--existing', '--ignore-existing', ...filterRules(o)]
  if (dryRun) argv.push('--dry-run', '--out-format=%i %n%L')
  argv.push(...ends(o))
  return argv
}

/** rsync's documented exit codes, with what to do about them; link: the peer or the path to it failed. */
export const RSYNC_EXIT: Record<number, { meaning: string; link?: boolean }> = {
  1: { meaning: 'syntax or usage error (an option this rsync does not know?)' },
  2: { meaning: 'protocol incompatibility between the two rsync versions' },
  3: { meaning: "errors selecting input/output files or directories (does the item's path exist on both nodes? use --bootstrap for a new node)" },
  4: { meaning: 'requested action not supported by this rsync build' },
  5: { meaning: 'error starting the client-server protocol', link: true },
  6: { meaning: 'daemon unable to append to its log file' },
  10: { meaning: 'error in socket I/O', link: true },
  11: { meaning: 'error in file I/O (disk full or read-only on the target?)' },
  12: { meaning: 'error in the rsync protocol data stream (connection dropped)', link: true },
  13: { meaning: 'errors with program diagnostics' },
  14: { meaning: 'error in IPC code' },
  20: { meaning: 'interrupted (SIGINT, SIGTERM or SIGHUP)' },
  21: { meaning: 'waitpid() error' },
  22: { meaning: 'out of memory allocating buffers' },
  23: { meaning: 'partial transfer: some files could not be read or written (permissions?)' },
  24: { meaning: 'partial transfer: some source files vanished during the sync (they are gone from the source too)' },
  25: { meaning: 'the --max-delete limit stopped deletions' },
  30: { meaning: 'timeout: no data moved (the link went down mid-transfer)', link: true },
  35: { meaning: 'timeout waiting for the daemon connection', link: true },
  124: { meaning: 'timed out' },
  127: { meaning: 'rsync not found on the source node' },
  255: { meaning: 'ssh to the target failed', link: true },
}

const LINK_TEXT =
  /connection (timed out|refused|reset|closed)|no route to host|network is unreachable|broken pipe|timeout|connection unexpectedly closed|could not resolve/i
const NOT_LINK_TEXT: [RegExp, string][] = [
  [
    /host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i,
    "host key verification failed: the source node's known_hosts does not pin this target's key",
  ],
  [/permission denied \(publickey|too many authentication failures/i, "the source node's key is not authorised on the target (sync.nodeKeyFile)"],
  [/rsync: (command )?not found|rsync: No such file/i, 'rsync is not installed on the target'],
]

export interface ExitVerdict {
  ok: boolean
  link: boolean
  warning?: string
  reason?: string
}

/** What an rsync exit means for the item: delivered, a link failure (degraded), or an error. */
export function classifyExit(code: number | null, stderr: string, signal?: string | null): ExitVerdict {
  if (code === 0) return { ok: true, link: false }
  if (code === 24) return { ok: true, link: false, warning: RSYNC_EXIT[24].meaning }
  const detail = firstError(stderr)
  for (const [re, why] of NOT_LINK_TEXT)
    if (re.test(stderr)) return { ok: false, link: false, reason: `rsync exit ${code}: ${why}${detail ? `: ${detail}` : ''}` }
  if (code === null) return { ok: false, link: true, reason: `rsync ended by ${signal ?? 'a lost connection'}` }
  const known = RSYNC_EXIT[code]
  const link = known?.link === true || ((code === 255 || code === 12) && LINK_TEXT.test(stderr))
  return { ok: false, link, reason: `rsync exit ${code}: ${known?.meaning ?? 'unknown error'}${detail ? `: ${detail}` : ''}` }
}

/** The most telling line of rsync's stderr: its own error, not the summary "rsync error: ... (code N)". */
function firstError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const own = lines.find((l) => !/^rsync error:/.test(l)) ?? lines[0] ?? ''
  return own.length > 200 ? own.slice(0, 197) + '...' : own
}

export interface RsyncStats {
  files: number
  created: number
  deleted: number
  transferred: number
  literal: number
  totalSize: number
  sent: number
  received: number
}

/** Numbers from --stats (with or without thousands separators). Missing lines read as 0. */
export function parseStats(out: string): RsyncStats {
  const num = (re: RegExp) => {
    const m = re.exec(out)
    return m ? Number(m[1].replace(/[,.']/g, '')) : 0
  }
  const regInFiles = /^Number of files: [\d,.']+ \((?:[^)]*?)reg: ([\d,.']+)/m
  return {
    files: regInFiles.test(out) ? num(regInFiles) : 0,
    created: num(/^Number of created files: ([\d,.']+)/m),
    deleted: num(/^Number of deleted files: ([\d,.']+)/m),
    transferred: num(/^Number of regular files transferred: ([\d,.']+)/m),
    literal: num(/^Literal data: ([\d,.']+)/m),
    totalSize: num(/^Total file size: ([\d,.']+)/m),
    sent: num(/^Total bytes sent: ([\d,.']+)/m),
    received: num(/^Total bytes received: ([\d,.']+)/m),
  }
}

/** File data a run sends ("Total transferred file size"): unlike Literal data, a dry run counts it too. */
export function parseTransferredSize(out: string): number {
  const m = /^Total transferred file size: ([\d,.']+)/m.exec(out)
  return m ? Number(m[1].replace(/[,.']/g, '')) : 0
}

/** The itemised lines of a dry run ("%i %n%L"), without the stats that follow them. */
export function parseItemized(out: string): string[] {
  return out.split('\n').filter((l) => /^([<>ch.*][fdLDS]|\*deleting)/.test(l) && !/^\.d\.{9} \.\/$/.test(l))
}

const HELD = /^Deletions stopped due to --max-delete limit \((\d+) skipped\)$/m
/** What --max-delete=0 held back, as rsync counts it (every non-directory; nested directories too), 0 if nothing. */
export function parseHeldDeletes(stderr: string): number {
  const m = HELD.exec(stderr)
  return m ? Number(m[1]) : 0
}

/** stderr without the lines --max-delete=0 adds on purpose, so they are never taken for the error. */
export function withoutHeldNoise(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !HELD.test(l) && !/^cannot delete non-empty directory: /.test(l) && !/^rsync error: the --max-delete limit stopped deletions/.test(l))
    .join('\n')
}

/** Non-directory entries in the source list and among the created ones, from --stats. */
export function parseNonDirCounts(out: string): { source: number; created: number } {
  const count = (label: string) => {
    const m = new RegExp(`^Number of ${label}: ([\\d,.']+)(?: \\(([^)]*)\\))?`, 'm').exec(out)
    if (!m) return 0
    const n = (v: string) => Number(v.replace(/[,.']/g, ''))
    const dirs = /(?:^|, )dir: ([\d,.']+)/.exec(m[2] ?? '')
    return n(m[1]) - (dirs ? n(dirs[1]) : 0)
  }
  return { source: count('files'), created: count('created files') }
}

/** The paths of "*deleting" lines of an itemised list; directories end with "/". */
export function deletedPaths(itemized: string[]): string[] {
  return itemized.filter((l) => l.startsWith('*deleting ')).map((l) => l.replace(/^\*deleting +/, ''))
}
