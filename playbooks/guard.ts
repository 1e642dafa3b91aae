// npx zx playbooks/guard.ts install|status|uninstall [--inventory F] [--pair P] [--node N] [--json]
// The lease guard of pairs fenced by lease (lib/guard/): a thin CLI over lib/guard/*.ts.
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { GUARD } from '../lib/options/guard.ts'
import { EXIT, HapairError, InputError, RefusedError } from '../lib/errors.ts'
import { findPair } from '../lib/inventory/load.ts'
import type { Node, Pair } from '../lib/inventory/schema.ts'
import { SshPool } from '../lib/ssh.ts'
import { LeaseFenceDriver } from '../lib/drivers/fence-lease.ts'
import { installGuard, uninstallGuard } from '../lib/guard/install.ts'
import { sessionRunner } from '../lib/guard/runner.ts'
import { guardFiles } from '../lib/guard/script.ts'
import { formatGuardStatus, readGuardStatus, type GuardNodeStatus } from '../lib/guard/status.ts'

const COMMANDS = ['install', 'status', 'uninstall'] as const
type Command = (typeof COMMANDS)[number]

interface NodeResult {
  node: string
  ok: boolean
  refused?: boolean
  detail: string
  status?: GuardNodeStatus
}

function selectPairs(pairs: Pair[], named: boolean, file: string): Pair[] {
  if (named) {
    const p = pairs[0]
    if (p.fencing?.driver !== 'lease') throw new InputError(`pair ${p.name} is fenced by "${p.fencing?.driver ?? 'none'}", not "lease": it has no lease guard`)
    return pairs
  }
  const lease = pairs.filter((p) => p.fencing?.driver === 'lease')
  if (!lease.length) throw new InputError(`${file}: no pair is fenced by lease ("fencing": { "driver": "lease" }), so no node has a lease guard`)
  return lease
}

async function onNode(cmd: Command, pool: SshPool, inv: ReturnType<typeof inventoryFrom>, pair: Pair, node: Node): Promise<NodeResult> {
  const run = sessionRunner(pool.session(pair, node))
  try {
    switch (cmd) {
      case 'install': {
        const r = await installGuard(run, pair, node)
        return { node: node.name, ok: true, detail: `guard running (pid ${r.pid}, ${r.manager}); files in ${guardFiles(pair).dir}` }
      }
      case 'status': {
        const s = await readGuardStatus(run, pair, node.name)
        return { node: node.name, ok: s.running, detail: formatGuardStatus(s), status: s }
      }
      case 'uninstall': {
        const d = new LeaseFenceDriver({ inv, pair, pool })
        const w = await d.disarm(node)
        await uninstallGuard(run, pair)
        return { node: node.name, ok: true, detail: `lease disarmed (${w.ledgers} ledger${w.ledgers === 1 ? '' : 's'}), guard stopped and removed` }
      }
    }
  } catch (e) {
    if (!(e instanceof HapairError)) throw e
    return { node: node.name, ok: false, refused: e instanceof RefusedError, detail: e.message }
  }
}

await runPlaybook(async () => {
  const args = parseArgs(GUARD)
  const [cmd, ...rest] = args._
  if (!COMMANDS.includes(cmd as Command) || rest.length)
    throw new InputError(cmd ? `usage: unknown command "${[cmd, ...rest].join(' ')}"` : 'usage: guard needs a command')
  const inv = inventoryFrom(args)
  const pairs = selectPairs(findPair(inv, args.pair), args.pair !== undefined, inv.file)
  const wanted = args.node
  if (wanted !== undefined && !pairs.some((p) => p.nodes.some((n) => n.name === wanted))) {
    throw new InputError(`--node ${wanted}: no such node in ${pairs.map((p) => `pair ${p.name} (${p.nodes.map((n) => n.name).join(', ')})`).join(', ')}`)
  }
  const pool = new SshPool(inv)
  try {
    const results = await Promise.all(
      pairs.map(async (pair) => ({
        pair: pair.name,
        nodes: await Promise.all(pair.nodes.filter((n) => wanted === undefined || n.name === wanted).map((n) => onNode(cmd as Command, pool, inv, pair, n))),
      })),
    )
    if (args.json) {
      console.log(JSON.stringify({ command: cmd, pairs: results }, null, 2))
    } else {
      for (const p of results) {
        console.log(`pair ${p.pair}:`)
        for (const n of p.nodes)
          console.log(cmd === 'status' ? `  ${n.detail}` : `  ${n.ok ? 'ok  ' : n.refused ? 'REFUSED' : 'FAIL'} ${n.node.padEnd(10)} ${n.detail}`)
      }
    }
    const all = results.flatMap((p) => p.nodes)
    if (all.some((n) => n.refused)) return EXIT.refused
    return all.every((n) => n.ok) ? EXIT.ok : EXIT.failed
  } finally {
    pool.close()
  }
}, helpText(GUARD))
