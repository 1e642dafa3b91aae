// A lab node "rebuilt": a new host key generated inside it and its sshd restarted on it, while
// every known_hosts still pins the old one (what a reinstalled server looks like to the pair).
import { rmSync, writeFileSync } from 'node:fs'
import { HapairError } from '../errors.ts'
import type { LoadedInventory } from '../inventory/load.ts'
import { resolveNode } from './fault.ts'
import { holderPid, nodeExec, nodePaths, sshdPid, startSshd } from './node.ts'
import { sleep } from './proc.ts'
import { requireLabHost } from './tools.ts'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The node's host key (the same path inside the node): what its console's ssh-keygen -lf reads. */
export const labHostKeyFile = (inv: LoadedInventory, node: string) => nodePaths(resolveNode(inv, node).n).hostKey

/**
 * Returns the host key's path (the same inside the node) and its new public key line. With
 * `key` (an OpenSSH private key and its public line), the node gets that key instead of a new
 * one: a server provisioned with a key generated beforehand.
 */
export async function rekeyNode(
  inv: LoadedInventory,
  node: string,
  key?: { privateKey: string; publicKey: string },
): Promise<{ hostKey: string; publicKey: string }> {
  requireLabHost()
  const { plan, n } = resolveNode(inv, node)
  const holder = holderPid(n)
  if (!holder) throw new HapairError(`${n.name} is powered off: nothing to rebuild`)
  const { hostKey } = nodePaths(n)
  rmSync(hostKey, { force: true })
  rmSync(`${hostKey}.pub`, { force: true })
  if (key) {
    writeFileSync(hostKey, key.privateKey, { mode: 0o600 })
    writeFileSync(`${hostKey}.pub`, key.publicKey.trim() + '\n')
  } else {
    const gen = await nodeExec(n, ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `hapair-lab-${plan.lab}-${n.name}-host-rebuilt`, '-f', hostKey])
    if (gen.code !== 0) throw new HapairError(`${n.name}: ssh-keygen failed: ${gen.stderr.trim()}`)
  }
  // sshd reads its host keys at start: the listener goes, open sessions (own processes) stay.
  const old = sshdPid(n)
  if (old) {
    process.kill(old, 'SIGTERM')
    for (let i = 0; i < 250 && alive(old); i++) await sleep(20)
    if (alive(old)) throw new HapairError(`${n.name}: sshd ${old} did not stop within 5 s`)
  }
  await startSshd(n, holder)
  const pub = await nodeExec(n, ['cat', `${hostKey}.pub`])
  return { hostKey, publicKey: pub.stdout.trim() }
}
