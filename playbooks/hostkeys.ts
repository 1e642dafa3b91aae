// npx zx playbooks/hostkeys.ts pin NODE --fingerprint SHA256:… [--dry-run] | show [NODE]   [--inventory F] [--pair P] [--json]
// A thin CLI over lib/hostkeys.ts.
import { inventoryFrom, parseArgs, runPlaybook } from '../lib/cli.ts'
import { helpText } from '../lib/cli/help.ts'
import { HOSTKEYS } from '../lib/options/hostkeys.ts'
import { EXIT, InputError } from '../lib/errors.ts'
import { parseFingerprint } from '../lib/host-key-scan.ts'
import { HostKeyRefusedError, formatPin, formatShow, pinHostKey, showPins } from '../lib/hostkeys.ts'
import { findNode, findPair, type LoadedInventory } from '../lib/inventory/load.ts'
import type { Node, Pair } from '../lib/inventory/schema.ts'
import { SshPool } from '../lib/ssh.ts'

/** The node by name, in --pair or in the only pair that has it. */
function locate(inv: LoadedInventory, pairName: string | undefined, name: string): { pair: Pair; node: Node } {
  const pairs = findPair(inv, pairName)
  if (pairName !== undefined) return { pair: pairs[0], node: findNode(pairs[0], name) }
  const having = pairs.filter((p) => p.nodes.some((n) => n.name === name))
  if (!having.length) throw new InputError(`${inv.file}: no node named "${name}" (nodes: ${pairs.flatMap((p) => p.nodes.map((n) => n.name)).join(', ')})`)
  if (having.length > 1) throw new InputError(`${inv.file}: node "${name}" is in pairs ${having.map((p) => p.name).join(', ')}: give --pair`)
  return { pair: having[0], node: findNode(having[0], name) }
}

await runPlaybook(async () => {
  const args = parseArgs(HOSTKEYS)
  const [cmd, ...rest] = args._
  if (cmd === 'pin') {
    if (rest.length !== 1) throw new InputError(`usage: pin takes one node name${rest.length ? ` (got ${rest.map((r) => JSON.stringify(r)).join(' ')})` : ''}`)
    if (args.fingerprint === undefined)
      throw new InputError("usage: pin needs --fingerprint SHA256:... (read on the node's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)")
    const fp = parseFingerprint(args.fingerprint)
    const inv = inventoryFrom(args)
    const { pair, node } = locate(inv, args.pair, rest[0])
    const pool = new SshPool(inv)
    try {
      const r = await pinHostKey(inv, pair, node, pool, { fingerprint: fp, dryRun: args['dry-run'] })
      console.log(args.json ? JSON.stringify({ command: 'pin', ...r }, null, 2) : formatPin(r))
      return r.ok ? EXIT.ok : EXIT.failed
    } catch (e) {
      if (e instanceof HostKeyRefusedError && args.json) {
        console.log(
          JSON.stringify(
            {
              command: 'pin',
              pair: pair.name,
              node: node.name,
              address: node.address,
              fingerprint: fp,
              ok: false,
              refused: true,
              reason: e.message,
              presented: e.presented,
              files: [],
            },
            null,
            2,
          ),
        )
      }
      throw e
    } finally {
      pool.close()
    }
  }
  if (cmd === 'show') {
    if (rest.length > 1) throw new InputError(`usage: show takes at most one node name (got ${rest.map((r) => JSON.stringify(r)).join(' ')})`)
    if (args.fingerprint !== undefined || args['dry-run']) throw new InputError('usage: --fingerprint and --dry-run are for pin')
    const inv = inventoryFrom(args)
    const only = rest[0]
    const pairs = only === undefined ? findPair(inv, args.pair) : [locate(inv, args.pair, only).pair]
    const pool = new SshPool(inv)
    try {
      const shown = await showPins(inv, pairs, pool, only)
      console.log(args.json ? JSON.stringify({ command: 'show', pairs: shown }, null, 2) : formatShow(shown))
      return shown.some((p) => p.files.some((f) => f.error)) ? EXIT.failed : EXIT.ok
    } finally {
      pool.close()
    }
  }
  throw new InputError(cmd ? `usage: unknown command "${cmd}" (pin or show)` : 'usage: hostkeys needs a command: pin or show')
}, helpText(HOSTKEYS))
