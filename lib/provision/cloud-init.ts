// First-boot user data for a provisioned node: the packages the playbooks need on a node,
// the state directory, and, on the primary only, the floating IPs in the kernel.
// Why only the primary, and only at runtime (not in netplan or ifupdown): the playbooks'
// linux driver is the one thing that moves addresses afterwards, so exactly one kernel holds
// them, matching the provider's assignment; a rebooted or fenced ex-primary never comes back
// holding an address it lost. After a reboot of the active node, `failover --to` it (or the
// IP driver's start) puts the address back.
// With keys (node-keys.ts), sshd starts with the host key the stack generated (and no other),
// the node has its sync key, pins its peers' host keys and authorizes their sync keys.
import YAML from 'yaml'
import { stateDir } from '../inventory/load.ts'
import type { Node, Pair } from '../inventory/schema.ts'
import { sh } from '../shell.ts'
import { authorizedSyncLines, keyText, nodeKnownHostsText, parsePublicKey, SYNC_RECEIVE, SYNC_RECEIVE_SCRIPT, syncPaths, type PeerKeys } from './node-keys.ts'

/** Debian packages for what the playbooks run on a node: rsync (sync), ip and arping (IP driver), chrony (clock skew precondition), tar/gzip (backups). */
export const NODE_PACKAGES = ['rsync', 'iproute2', 'arping', 'chrony', 'tar', 'gzip', 'ca-certificates']

export interface HeldAddress {
  address: string
  prefix: number
}

export interface CloudInitInput {
  pair: Pair
  node: Node
  /** Addresses this node's kernel takes at first boot (the primary's floating IPs); empty on others. */
  hold: HeldAddress[]
  /** The node's keys and its peers' public keys; without them sshd makes its own host keys. */
  keys?: NodeKeyMaterial
}

export interface NodeKeyMaterial {
  /** OpenSSH private key and public key line of the node's sshd. */
  hostKey: { privateKey: string; publicKey: string }
  /** The key this node's sync uses to reach its peers. */
  syncKey: { privateKey: string; publicKey: string }
  /** The pair's other nodes. */
  peers: PeerKeys[]
  /** The login user the playbooks (and the peers' sync) use on this node. */
  sshUser: string
}

/** Where cloud-init puts the peers' sync keys before appending them to the login user's authorized_keys. */
export const AUTHORIZED_SYNC_KEYS = '/etc/hapair/authorized_sync_keys'

function keyParts(pair: Pair, node: Node, k: NodeKeyMaterial) {
  const { keyFile, knownHostsFile } = syncPaths(pair)
  const host = parsePublicKey(k.hostKey.publicKey, `host key of ${node.name}`)
  const sync = parsePublicKey(k.syncKey.publicKey, `sync key of ${node.name}`)
  const files = [
    { path: keyFile, permissions: '0600', content: k.syncKey.privateKey.endsWith('\n') ? k.syncKey.privateKey : k.syncKey.privateKey + '\n' },
    { path: `${keyFile}.pub`, permissions: '0644', content: `${keyText(sync)} hapair-sync:${pair.name}@${node.name}\n` },
    { path: knownHostsFile, permissions: '0644', content: nodeKnownHostsText(pair, k.peers) },
    { path: SYNC_RECEIVE, permissions: '0755', content: SYNC_RECEIVE_SCRIPT },
    { path: AUTHORIZED_SYNC_KEYS, permissions: '0644', content: authorizedSyncLines(pair, k.peers) },
  ]
  // runcmd runs after cloud-init's ssh module has written the provider's keys for the user, so
  // these lines are added to that file, not replaced by it. The user must exist at first boot.
  const user = k.sshUser
  const authorize = sh`set -e; u=${user}; h=$(getent passwd "$u" | cut -d: -f6); [ -n "$h" ] || { echo "hapair: user $u does not exist: peers' sync keys not authorized" >&2; exit 1; }
install -d -m 700 -o "$u" "$h/.ssh"; cat ${AUTHORIZED_SYNC_KEYS} >> "$h/.ssh/authorized_keys"; chown "$u" "$h/.ssh/authorized_keys"; chmod 600 "$h/.ssh/authorized_keys"; chown "$u" ${keyFile}`
  return {
    ssh: {
      // Delete whatever keys the image had and make none: sshd presents exactly the pinned key.
      ssh_deletekeys: true,
      ssh_genkeytypes: [],
      ssh_keys: { ed25519_private: k.hostKey.privateKey.endsWith('\n') ? k.hostKey.privateKey : k.hostKey.privateKey + '\n', ed25519_public: keyText(host) },
    },
    files,
    runcmd: [['sh', '-c', authorize]],
  }
}

export function cloudInit({ pair, node, hold, keys }: CloudInitInput): string {
  const dev = node.interface ?? 'eth0'
  const k = keys ? keyParts(pair, node, keys) : undefined
  const runcmd: (string | string[])[] = [['mkdir', '-p', stateDir(pair)], ...(k?.runcmd ?? [])]
  for (const h of hold) {
    const v6 = h.address.includes(':')
    // "|| true": on a re-run of cloud-init the address is already there, which is fine.
    runcmd.push([
      'sh',
      '-c',
      (v6 ? sh`ip -6 addr add ${`${h.address}/${h.prefix}`} dev ${dev} nodad` : sh`ip addr add ${`${h.address}/${h.prefix}`} dev ${dev}`) + ' || true',
    ])
  }
  const doc = {
    ...k?.ssh,
    package_update: true,
    packages: NODE_PACKAGES,
    write_files: [
      {
        path: '/etc/hapair/node.json',
        permissions: '0644',
        content:
          JSON.stringify({ pair: pair.name, node: node.name, primary: pair.primary, floatingIps: hold.map((h) => `${h.address}/${h.prefix}`) }, null, 2) + '\n',
      },
      ...(k?.files ?? []),
    ],
    runcmd,
  }
  return `#cloud-config\n# hapair: pair ${pair.name}, node ${node.name}${node.name === pair.primary ? ' (primary)' : ''}\n${YAML.stringify(doc, { lineWidth: 0 })}`
}
