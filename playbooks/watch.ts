// npx zx playbooks/watch.ts [run] | pause | resume | status: automatic failover (lib/watch/).
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { WATCH } from '../lib/options/watch.ts'
import { InputError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import { SshPool } from '../lib/ssh.ts'
import { formatEvent, watch } from '../lib/watch/index.ts'
import { inForce, parseFor, readPause, writePause } from '../lib/watch/pause.ts'
import os from 'node:os'

await runPlaybook(async () => {
  const args = parseArgs(WATCH)
  const [cmd = 'run', ...rest] = args._
  if (rest.length) throw new InputError(`unexpected argument "${rest[0]}"`)
  const inv = inventoryFrom(args)
  const names = args.pair
  const pairs = names.length ? names.flatMap((n) => findPair(inv, n)) : inv.data.pairs
  switch (cmd) {
    case 'run': {
      if (args.for !== undefined || args.reason !== undefined) throw new InputError('--for and --reason go with pause')
      const out = (line: string) => process.stdout.write(line + '\n')
      const h = await watch(inv, pairs, { onEvent: (e) => out(args.json ? JSON.stringify(e) : formatEvent(e)) })
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve())
        process.once('SIGTERM', () => resolve())
      })
      await h.stop()
      return 0
    }
    case 'pause':
    case 'resume': {
      if (pairs.length !== 1 || !names.length) throw new InputError(`${cmd} needs exactly one --pair (pairs: ${inv.data.pairs.map((p) => p.name).join(', ')})`)
      let until: string | undefined
      if (cmd === 'pause' && args.for !== undefined) {
        const ms = parseFor(args.for)
        if (ms === undefined) throw new InputError(`--for ${args.for}: expected a duration like 30m, 2h, 90s (at most 30d)`)
        until = new Date(Date.now() + ms).toISOString()
      }
      if (cmd === 'resume' && (args.for !== undefined || args.reason !== undefined)) throw new InputError('--for and --reason go with pause')
      const pool = new SshPool(inv)
      try {
        const rec = {
          paused: cmd === 'pause',
          at: new Date().toISOString(),
          by: `${os.userInfo().username}@${os.hostname()}`,
          ...(until ? { until } : {}),
          ...(args.reason ? { reason: args.reason } : {}),
        }
        const r = await writePause(pool, pairs[0], rec)
        const missed = Object.keys(r.missed)
        if (args.json) console.log(JSON.stringify({ pair: pairs[0].name, ...rec, written: r.written, missed: r.missed }))
        else
          console.log(
            `${pairs[0].name}: ${cmd === 'pause' ? `paused${until ? ` until ${until}` : ' until resumed'}` : 'resumed'} (recorded on ${r.written.join(', ')}${missed.length ? `; not on ${missed.join(', ')}: unreachable` : ''})`,
          )
      } finally {
        pool.close()
      }
      return 0
    }
    case 'status': {
      const pool = new SshPool(inv)
      try {
        const rows = await Promise.all(pairs.map(async (p) => ({ pair: p.name, pause: await readPause(pool, p) })))
        if (args.json) console.log(JSON.stringify(rows.map((r) => ({ pair: r.pair, paused: inForce(r.pause), record: r.pause ?? null }))))
        else
          for (const r of rows)
            console.log(
              `${r.pair}: ${inForce(r.pause) ? `paused by ${r.pause!.by}${r.pause!.until ? ` until ${r.pause!.until}` : ''}${r.pause!.reason ? ` (${r.pause!.reason})` : ''}` : 'watched (not paused)'}`,
            )
      } finally {
        pool.close()
      }
      return 0
    }
    default:
      throw new InputError(`unknown command "${cmd}"`)
  }
}, helpText(WATCH))
