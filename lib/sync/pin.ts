// The node-to-node hop trusts exactly the key the controller pinned for the target: one source
// of trust. The source's hapair known_hosts (pair.sync.nodeKnownHostsFile) holds only lines
// hapair writes, `<alias> <type> <key>` under a HostKeyAlias hapair owns (older releases wrote
// `<address> <type> <key>`, still accepted with the controller's key). Any other line that
// could speak for the target (another key, a pattern, a hashed name, a marker) refuses the hop,
// because OpenSSH accepts a server when any matching line matches. A missing alias line is
// copied from the controller. The hop's ssh looks up the alias alone (rsync.ts sshCommand).
import path from 'node:path'
import { RefusedError } from '../errors.ts'
import { sshSettings, type LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { fingerprint, hostField, knownHostsEntries, readKnownHosts, type KnownHostsEntry, type KnownKey } from '../known-hosts.ts'
import { sh } from '../shell.ts'
import type { NodeSession } from '../ssh.ts'

export type PinVerdict =
  { state: 'pinned' } | { state: 'missing'; lines: string[] } | { state: 'conflict'; reason: string } | { state: 'untrusted'; reason: string }

/** '@' cannot occur in pair or node names, so no two (pair, node) share an alias. */
export const hostKeyAlias = (pair: Pair | string, node: Node | string) =>
  `hapair-${typeof pair === 'string' ? pair : pair.name}@${typeof node === 'string' ? node : node.name}`
const OWN_ALIAS = /^hapair-[a-z0-9][a-z0-9_.-]*@[a-z0-9][a-z0-9_.-]*$/
/** What makes a host field more than one literal name, for OpenSSH: wildcards, negation, lists. */
const PATTERN = /[*?!,]/

export interface HopPeer {
  name: string
  address: string
  port: number
  alias: string
}
export interface PinScope {
  /** The node-side file, for messages. */
  file: string
  source: string
  /** Literal host fields hapair may have written for other nodes: those lines do not speak for this target. */
  others: string[]
}

const addressFields = (address: string, port: number) => (port === 22 ? [address, `[${address}]:22`] : [hostField(address, port)])

/** Why this line must not stand beside the target's pin; undefined when it is hapair's own. */
function lineProblem(e: KnownHostsEntry, target: HopPeer, trusted: (b: Buffer) => boolean, others: string[]): string | undefined {
  if (e.marker) return `a ${e.marker} line`
  if (!e.blob) return 'not a host key line'
  if (e.hosts.startsWith('|')) return 'a hashed host name'
  if (PATTERN.test(e.hosts)) return `a host pattern or list (${e.hosts})`
  if (e.hosts === target.alias || addressFields(target.address, target.port).includes(e.hosts)) {
    return trusted(e.blob) ? undefined : `a key for ${e.hosts} the controller does not pin`
  }
  if (OWN_ALIAS.test(e.hosts) || others.includes(e.hosts)) return undefined
  return `a line for ${e.hosts}, which hapair did not write`
}

/** Compares the source's hapair known_hosts with what the controller pins for the target. Pure. */
export function comparePins(nodeText: string, controller: KnownKey[], target: HopPeer, scope: PinScope): PinVerdict {
  if (controller.length === 0)
    return {
      state: 'untrusted',
      reason: `the controller's known_hosts pins no key for ${target.name} (${target.address}), so none can be given to the source node`,
    }
  const trusted = (b: Buffer) => controller.some((c) => c.blob.equals(b))
  const problems: string[] = []
  let aliased = false
  for (const e of knownHostsEntries(nodeText)) {
    const why = lineProblem(e, target, trusted, scope.others)
    if (why) problems.push(`line ${e.line} is ${why}${e.blob ? ` (${fingerprint(e.blob)})` : ''}`)
    else if (e.hosts === target.alias) aliased = true
  }
  if (problems.length) {
    const want = controller.map((k) => fingerprint(k.blob)).join(', ')
    return {
      state: 'conflict',
      reason:
        `HOST KEY MISMATCH on the hop ${scope.source} -> ${target.name} (${target.address}): in ${scope.file} on ${scope.source}, ${problems.join('; ')}; the controller pins ${want} for ${target.name}. ` +
        `The hop trusts only that key, so the sync to ${target.name} is refused: remove those lines (if ${target.name} was rebuilt, fix the controller's known_hosts first)`,
    }
  }
  if (aliased) return { state: 'pinned' }
  return { state: 'missing', lines: controller.map((k) => `${target.alias} ${k.type} ${k.blob.toString('base64')}`) }
}

/** Literal host fields hapair writes for every node of the inventory but `target` (aliases match OWN_ALIAS anyway). */
function otherHosts(inv: LoadedInventory, target: Node): string[] {
  return inv.data.pairs.flatMap((p) => p.nodes.filter((n) => n !== target).flatMap((n) => addressFields(n.address, sshSettings(inv, p, n).port)))
}

/** The keys the controller trusts for the target; @revoked ones never travel to a node. */
function controllerKeys(file: string | undefined, target: Node, port: number): KnownKey[] {
  if (!file) return []
  const known = readKnownHosts(file, [target.address, target.name], port)
  return known.keys.filter((k) => !known.revoked.some((r) => r.blob.equals(k.blob)))
}

/**
 * Checks the source's hapair known_hosts (as the probe read it) against the controller's pin;
 * appends a missing pin unless dryRun. Any line that could widen the trust: RefusedError.
 */
export async function ensurePinned(
  src: NodeSession,
  inv: LoadedInventory,
  pair: Pair,
  target: Node,
  nodeFile: string,
  nodeText: string,
  dryRun: boolean,
): Promise<PinVerdict> {
  const ssh = sshSettings(inv, pair, target)
  const peer = { name: target.name, address: target.address, port: ssh.port, alias: hostKeyAlias(pair, target) }
  const verdict = comparePins(nodeText, controllerKeys(ssh.knownHostsFile, target, ssh.port), peer, {
    file: nodeFile,
    source: src.name,
    others: otherHosts(inv, target),
  })
  if (verdict.state === 'conflict') throw new RefusedError(verdict.reason)
  if (verdict.state === 'missing' && !dryRun) {
    await src.run(
      {
        script: sh`umask 077; mkdir -p ${path.posix.dirname(nodeFile)} || exit 1; if [ -s ${nodeFile} ] && [ -n "$(tail -c 1 ${nodeFile})" ]; then echo >> ${nodeFile}; fi; cat >> ${nodeFile}`,
      },
      { input: verdict.lines.join('\n') + '\n' },
    )
  }
  return verdict
}
