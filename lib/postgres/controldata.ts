// pg_controldata's report (run with LC_ALL=C), for a server that is down: whether it was shut
// down cleanly as a primary (its last WAL record is then the shutdown checkpoint, which a standby
// must have replayed before it may be promoted), and on which timeline.
export interface ControlData {
  /** "in production", "shut down", "shut down in recovery", "in archive recovery", "in crash recovery"... */
  state: string
  checkpoint?: string
  redo?: string
  timeline?: number
  minRecoveryEnd?: string
  walLogHints?: boolean
  checksums?: boolean
}

export function parseControlData(text: string): ControlData | undefined {
  const f: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) f[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  const state = f['Database cluster state']
  if (!state) return undefined
  const tli = Number(f["Latest checkpoint's TimeLineID"])
  return {
    state,
    checkpoint: f['Latest checkpoint location'],
    redo: f["Latest checkpoint's REDO location"],
    timeline: Number.isInteger(tli) && tli > 0 ? tli : undefined,
    minRecoveryEnd: f['Minimum recovery ending location'],
    walLogHints: f['wal_log_hints setting'] === undefined ? undefined : f['wal_log_hints setting'] === 'on',
    checksums: f['Data page checksum version'] === undefined ? undefined : f['Data page checksum version'] !== '0',
  }
}

/** A primary stopped by a clean (smart or fast) shutdown: its WAL ends with the shutdown checkpoint. */
export const shutDownAsPrimary = (c: ControlData | undefined) => c?.state === 'shut down'
