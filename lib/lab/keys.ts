// Every key of the lab is generated fresh at `up` and every host key is pinned: the controller's
// known_hosts and each node's own pin file. Nothing ever falls back to trust-on-first-use.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { LabPlan } from './plan.ts'
import { must } from './proc.ts'
import { nodePaths } from './node.ts'

export async function keygen(file: string, comment: string): Promise<string> {
  // Only the key's own directory is private: its parents are the node's /var/lib and such.
  mkdirSync(path.dirname(file), { recursive: true })
  chmodSync(path.dirname(file), 0o700)
  if (!existsSync(file)) await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
  return readFileSync(`${file}.pub`, 'utf8').trim()
}

/** `<address> <type> <key>`: the comment is dropped, the pin is the key alone. */
const pinLine = (address: string, pub: string, port: number) => `${port === 22 ? address : `[${address}]:${port}`} ${pub.split(/\s+/).slice(0, 2).join(' ')}`

export interface LabKeys {
  controller: string
  hosts: Record<string, string>
  clients: Record<string, string>
  authorizedKeys: string
  /** What a lab bastion lets in: the controller's key only (node-to-node sync never goes through it). */
  bastionAuthorizedKeys: string
}

/** Generates all keys (in parallel: ssh-keygen is the slow part) and writes the pin files. */
export async function makeKeys(plan: LabPlan): Promise<LabKeys> {
  const [controller, hostList, clientList, bastionList] = await Promise.all([
    keygen(plan.keyFile, `hapair-lab-${plan.lab}-controller`),
    Promise.all(plan.nodes.map((n) => keygen(nodePaths(n).hostKey, `hapair-lab-${plan.lab}-${n.name}-host`))),
    Promise.all(plan.nodes.map((n) => keygen(path.join(nodePaths(n).nodeSsh, 'id_ed25519'), `root@${n.name}`))),
    Promise.all(plan.bastions.map((b) => keygen(nodePaths(b).hostKey, `hapair-lab-${plan.lab}-${b.name}-host`))),
  ])
  const hosts = Object.fromEntries([...plan.nodes.map((n, i) => [n.name, hostList[i]]), ...plan.bastions.map((b, i) => [b.name, bastionList[i]])])
  const clients = Object.fromEntries(plan.nodes.map((n, i) => [n.name, clientList[i]]))
  const pins = plan.nodes.map((n) => pinLine(n.address, hosts[n.name], n.sshPort)).join('\n') + '\n'
  // The controller pins its bastions as it pins its nodes; the nodes' own files pin only each other.
  writeFileSync(plan.knownHostsFile, pins + plan.bastions.map((b) => pinLine(b.address, hosts[b.name], b.sshPort) + '\n').join(''), { mode: 0o644 })
  const authorizedKeys = path.join(plan.stateDir, 'authorized_keys')
  writeFileSync(authorizedKeys, [controller, ...clientList].join('\n') + '\n', { mode: 0o644 })
  const bastionAuthorizedKeys = path.join(plan.stateDir, 'authorized_keys.bastion')
  writeFileSync(bastionAuthorizedKeys, `${controller}\n`, { mode: 0o644 })
  for (const n of plan.nodes) writeFileSync(path.join(nodePaths(n).nodeSsh, 'known_hosts'), pins, { mode: 0o644 })
  return { controller, hosts, clients, authorizedKeys, bastionAuthorizedKeys }
}
