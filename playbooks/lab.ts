// npx zx playbooks/lab.ts up|down|status|exec|fault …: the local lab pair (see lib/lab/).
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { LAB } from '../lib/options/lab.ts'
import { InputError } from '../lib/errors.ts'
import { requireLabHost } from '../lib/lab/tools.ts'
import {
  FAULTS,
  formatLabStatus,
  labDown,
  labExecInherit,
  labFault,
  labHealAll,
  labLoss,
  labPartition,
  labStatus,
  labUp,
  parsePercent,
  type FaultKind,
} from '../lib/lab/index.ts'

await runPlaybook(async () => {
  requireLabHost()
  const args = parseArgs(LAB)
  const [cmd, ...rest] = args._
  const log = args.json ? undefined : (line: string) => console.log(line)
  switch (cmd) {
    case 'up': {
      const inv = inventoryFrom(args)
      const r = await labUp(inv, { log })
      if (args.json) console.log(JSON.stringify(r, null, 2))
      return 0
    }
    case 'down': {
      const inv = inventoryFrom(args)
      const removed = await labDown(inv, { log })
      if (args.json) console.log(JSON.stringify({ removed }, null, 2))
      return 0
    }
    case 'status': {
      const s = await labStatus(inventoryFrom(args))
      console.log(args.json ? JSON.stringify(s, null, 2) : formatLabStatus(s))
      return 0
    }
    case 'exec': {
      const [node, ...inline] = rest
      const argv = args['--']?.length ? args['--'] : inline
      if (!node || !argv.length) throw new InputError('usage: lab exec NODE -- CMD ARGS...')
      return labExecInherit(inventoryFrom(args), node, argv)
    }
    case 'fault': {
      const [kind, ...targets] = rest
      const say = (result: string, extra: Record<string, unknown>) => console.log(args.json ? JSON.stringify({ fault: kind, ...extra, result }) : result)
      if (args['one-way'] && kind !== 'partition') throw new InputError('usage: --one-way goes with lab fault partition A B')
      if (kind === 'partition') {
        if (targets.length !== 2) throw new InputError('usage: lab fault partition A B [--one-way]')
        const [a, b] = targets
        say(await labPartition(inventoryFrom(args), a, b, { oneWay: args['one-way'] }), { a, b, oneWay: args['one-way'] })
        return 0
      }
      if (kind === 'loss') {
        if (targets.length !== 2) throw new InputError('usage: lab fault loss NODE PCT')
        const pct = parsePercent(targets[1])
        say(await labLoss(inventoryFrom(args), targets[0], pct), { node: targets[0], pct })
        return 0
      }
      if (kind === 'heal' && targets.length === 0) {
        say(await labHealAll(inventoryFrom(args)), {})
        return 0
      }
      if (!FAULTS.includes(kind as FaultKind) || targets.length !== 1) {
        throw new InputError(`usage: lab fault ${FAULTS.join('|')} NODE | partition A B [--one-way] | loss NODE PCT | heal`)
      }
      const node = targets[0]
      say(await labFault(inventoryFrom(args), kind as FaultKind, node), { node })
      return 0
    }
    default:
      throw new InputError(cmd ? `usage: unknown command "${cmd}"` : 'usage: lab needs a command')
  }
}, helpText(LAB))
