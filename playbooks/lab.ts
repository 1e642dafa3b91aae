// npx zx playbooks/lab.ts up|down|status|exec|fault …: the local lab pair (see lib/lab/).
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
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

const usage = `usage: npx zx playbooks/lab.ts COMMAND [--inventory FILE] [--json]
  up                      build every node of every pair of the inventory's lab on this machine
  down                    remove everything up made (fine when nothing is there)
  status                  namespaces, links, sshd/services and floating IPs, per node
  exec NODE -- CMD ARGS…  run a command on a node (its network and mount namespaces); exits with its code
  fault isolate|heal NODE unplug / replug the node's cable (processes keep running)
  fault kill|start NODE   power the node off (kill -9 everything, addresses gone) / on (sshd and non-singleton services)
  fault pause|resume NODE hang the node (SIGSTOP every process; ping still answers) / let it run again
  fault partition A B [--one-way]
                          drop every frame between hosts A and B (node names or "controller"); --one-way: only A -> B
  fault loss NODE PCT     drop PCT% (0..100) of the frames into and out of the node's (or the controller's) link at random; 0 removes it
  fault heal              clear every fault: partitions, loss, paused nodes, unplugged cables (not power)
exit 0: done; 1: failed; 2: bad usage, not root, or a missing tool; 3: refused (subnet overlaps)`

await runPlaybook(async () => {
  requireLabHost()
  const args = parseArgs({ string: ['inventory'], boolean: ['json', 'one-way'] })
  const [cmd, ...rest] = args._.map(String)
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
        say(await labPartition(inventoryFrom(args), a, b, { oneWay: args['one-way'] }), { a, b, oneWay: !!args['one-way'] })
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
}, usage)
