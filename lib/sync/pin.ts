// The node-to-node hop checks the target's host key too (StrictHostKeyChecking=yes). Its pin
// comes from the controller's own known_hosts, so there is one source of trust: a missing pin
// is copied over, a different one is refused.
import path from 'node:path'
import { sshSettings, type LoadedInventory } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { fingerprint, parseKnownHosts, readKnownHosts, type KnownKey } from '../known-hosts.ts'
import { sh } from '../shell.ts'
import type { NodeSession } from '../ssh.ts'

export type PinVerdict =
  | { state: 'pinned' }
  | { state: 'missing'; lines: string[] }
  | { state: 'conflict'; reason: string }
  | { state: 'untrusted'; reason: string }

const hostField = (address: string, port: number) => (port === 22 ? address : `[${address}]:${port}`)

/** Compares what the source node pins for the target with what the controller pins. Pure. */
export function comparePins(nodeText: string, controller: KnownKey[], target: { address: string; port: number; name: string }, nodeFile: string): PinVerdict {
  if (controller.length === 0) return { state: 'untrusted', reason: `the controller's known_hosts pins no key for ${target.name} (${target.address}), so none can be given to the source node` }
  const onNode = parseKnownHosts(nodeText, [target.address], target.port)
  const trusted = (k: KnownKey) => controller.some((c) => c.blob.equals(k.blob))
  if (onNode.keys.some(trusted)) return { state: 'pinned' }
  if (onNode.keys.length) {
    return {
      state: 'conflict',
      reason: `HOST KEY MISMATCH on the hop: ${nodeFile} on the source pins ${onNode.keys.map((k) => fingerprint(k.blob)).join(', ')} for ${target.address}, the controller pins ${controller.map((k) => fingerprint(k.blob)).join(', ')}; fix one of them (a rebuilt node?)`,
    }
  }
  return { state: 'missing', lines: controller.map((k) => `${hostField(target.address, target.port)} ${k.type} ${k.blob.toString('base64')}`) }
}

/** Checks the source's pins (as the probe read them) against the controller's; appends a missing pin unless dryRun. */
export async function ensurePinned(src: NodeSession, inv: LoadedInventory, pair: Pair, target: Node, nodeFile: string, nodeText: string, dryRun: boolean): Promise<PinVerdict> {
  const ssh = sshSettings(inv, pair, target)
  const controller = ssh.knownHostsFile ? readKnownHosts(ssh.knownHostsFile, [target.address, target.name], ssh.port).keys : []
  const verdict = comparePins(nodeText, controller, { address: target.address, port: ssh.port, name: target.name }, nodeFile)
  if (verdict.state === 'missing' && !dryRun) {
    await src.run({ script: sh`umask 077; mkdir -p ${path.posix.dirname(nodeFile)} || exit 1; if [ -s ${nodeFile} ] && [ -n "$(tail -c 1 ${nodeFile})" ]; then echo >> ${nodeFile}; fi; cat >> ${nodeFile}` }, { input: verdict.lines.join('\n') + '\n' })
  }
  return verdict
}
