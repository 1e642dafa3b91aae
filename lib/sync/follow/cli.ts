// `sync.ts --follow`: follows every selected pair until SIGTERM or SIGINT, one JSON event per
// line on stdout, Prometheus metrics on --metrics-port.
import { inventoryFrom, parseArgs } from '../../cli.ts'
import { SYNC_FOLLOW } from '../../options/sync.ts'
import { EXIT, InputError } from '../../errors.ts'
import { findPair } from '../../inventory/load.ts'
import { SshPool } from '../../ssh.ts'
import { startFollow, type Follower } from './index.ts'
import { serveMetrics } from './metrics.ts'

const num = (v: unknown, flag: string, min: number) => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new InputError(`${flag} must be an integer of at least ${min} (got ${JSON.stringify(v)})`)
  return n
}

export async function followMain(): Promise<number> {
  const args = parseArgs(SYNC_FOLLOW)
  if (args._.length) throw new InputError(`usage: unexpected argument ${JSON.stringify(args._[0])}`)
  const inv = inventoryFrom(args)
  const pairs = findPair(inv, args.pair)
  const items = args.item
  const o = {
    items,
    force: args.force,
    batchMs: num(args['batch-ms'], '--batch-ms', 0),
    ioTimeoutSec: num(args.timeout, '--timeout', 1),
    fullEveryMs: args['full-every'] === undefined ? undefined : num(args['full-every'], '--full-every', 0)! * 1000,
  }
  const port = num(args['metrics-port'], '--metrics-port', 1)
  const pool = new SshPool(inv)
  const followers: Follower[] = pairs.map((p) =>
    startFollow(inv, p, pool, {
      ...o,
      items: pairs.length > 1 && !items.length ? undefined : items,
      log: args.verbose ? (l) => console.error(`${p.name}: ${l}`) : undefined,
    }),
  )
  const server = port ? await serveMetrics(port, args['metrics-host'] || '127.0.0.1', () => followers.map((f) => f.numbers())) : undefined
  let stopping: Promise<unknown> | undefined
  const stop = () => {
    stopping ??= Promise.all(followers.map((f) => f.stop()))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  try {
    const ends = await Promise.allSettled(followers.map((f) => f.done))
    const bad = ends.find((e): e is PromiseRejectedResult => e.status === 'rejected')
    if (bad) {
      stop()
      throw bad.reason
    }
    return EXIT.ok
  } finally {
    await stopping
    server?.close()
    pool.close()
  }
}
