// Writes the run's records on the active node. lib/state.ts writes through a shell command (a
// process on the node per file); here the same files, written the same way (temporary name,
// fsync, rename), go over an SFTP channel opened while the items run, so recording adds no
// process start to the run: it is the cost a plain rsync does not have.
import type { SFTPWrapper } from 'ssh2'
import { stateDir } from '../inventory/load.ts'
import type { Pair } from '../inventory/schema.ts'
import type { NodeSession } from '../ssh.ts'
import { removeNodeState, writeNodeState, STATE_FILES, type DegradedRecord, type SyncRecord } from '../state.ts'
import { mergeDegraded, mergeSyncTimes } from './degraded.ts'
import { sftpCall } from './sftp.ts'
import type { ItemResult } from './types.ts'

const FILE = { sync: STATE_FILES.sync, degraded: STATE_FILES.degraded } as const
type Key = keyof typeof FILE

async function sftpPut(sftp: SFTPWrapper, dir: string, name: string, text: string): Promise<void> {
  try {
    await sftpCall((cb) => sftp.stat(dir, cb as any))
  } catch {
    let sub = ''
    for (const part of dir.split('/').filter(Boolean)) {
      sub += '/' + part
      await sftpCall((cb) => sftp.mkdir(sub, cb as any)).catch(() => {
        /* exists */
      })
    }
  }
  const tmp = `${dir}/${name}.tmp.${process.pid}`
  const handle = await sftpCall<Buffer>((cb) => sftp.open(tmp, 'w', { mode: 0o644 }, cb as any))
  try {
    const data = Buffer.from(text)
    await sftpCall((cb) => sftp.write(handle, data, 0, data.length, 0, cb as any))
    await sftpCall((cb) => sftp.ext_openssh_fsync(handle, cb as any)).catch(() => {
      /* an old server: rename is still atomic */
    })
  } finally {
    await sftpCall((cb) => sftp.close(handle, cb as any)).catch(() => {})
  }
  await sftpCall((cb) => sftp.ext_openssh_rename(tmp, `${dir}/${name}`, cb as any))
}

export interface Recorder {
  record(prev: { degraded?: DegradedRecord; sync?: SyncRecord }, results: ItemResult[], now: string): Promise<DegradedRecord | null>
  close(): void
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

/** Starts opening the SFTP channel now; record() falls back to lib/state.ts if there is none. */
export function recorder(s: NodeSession, pair: Pair): Recorder {
  const channel = s.sftp().catch(() => undefined)
  const dir = stateDir(pair)
  const put = async (key: Key, value: DegradedRecord | SyncRecord) => {
    const sftp = await channel
    const text = JSON.stringify(value, null, 2) + '\n'
    if (sftp) return sftpPut(sftp, dir, FILE[key], text)
    return writeNodeState(s, pair, key, value as never)
  }
  const remove = async (key: Key) => {
    const sftp = await channel
    if (sftp)
      return sftpCall((cb) => sftp.unlink(`${dir}/${FILE[key]}`, cb as any)).catch((e: { code?: number }) => {
        if (e.code !== 2) throw e
      })
    return removeNodeState(s, pair, key)
  }
  return {
    async record(prev, results, now) {
      const degraded = mergeDegraded(prev.degraded, results, now)
      const sync = mergeSyncTimes(prev.sync, results)
      await Promise.all([
        same(sync, prev.sync) ? undefined : put('sync', sync),
        same(degraded, prev.degraded) ? undefined : degraded ? put('degraded', degraded) : remove('degraded'),
      ])
      return degraded
    },
    close() {
      void channel.then((c) => c?.end())
    },
  }
}
