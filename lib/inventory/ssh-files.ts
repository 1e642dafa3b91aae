// The controller's SSH files named by the inventory (keyFile, knownHostsFile, a bastion's keyFile), checked when the
// inventory is loaded, so /dev/zero or a password file is a located exit-2 line before any node is
// asked, whichever playbook runs. A file that does not exist yet (the lab creates its keys) is left
// to the connection, which reports it per node.
import path from 'node:path'
import { InputError } from '../errors.ts'
import { loadInventory, type LoadedInventory } from './load.ts'
import { FileRefusedError, MAX_BYTES, decodeUtf8, readRegularFileOnce } from './read-file.ts'
import type { SshSettings } from './schema.ts'

// OpenSSH, PKCS#1/#8 and PuTTY private keys; a public key or anything else is refused here.
const PRIVATE_KEY = /^(-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----|PuTTY-User-Key-File-\d+:)/

function checkKey(bytes: Buffer): string | undefined {
  const head = bytes.subarray(0, 100).toString('latin1').trimStart()
  if (PRIVATE_KEY.test(head)) return undefined
  return /^(ssh-|ecdsa-|sk-)/.test(head)
    ? 'is a public key; keyFile must name the private key'
    : 'is not a private key (no "-----BEGIN … PRIVATE KEY-----" line)'
}

/** One line per bad file, located at the JSON path that names it. */
export function sshFileProblems(inv: LoadedInventory, shown: string = inv.file): string[] {
  const blocks: [string, SshSettings | undefined][] = [['defaults/ssh', inv.data.defaults?.ssh]]
  inv.data.pairs.forEach((p, pi) => {
    blocks.push([`pairs/${pi}/ssh`, p.ssh])
    p.nodes.forEach((n, ni) => blocks.push([`pairs/${pi}/nodes/${ni}/ssh`, n.ssh]))
  })
  const out: string[] = []
  // A bastion's own key (ssh.jump) is checked like the node's.
  type Named = [at: string, key: 'keyFile' | 'knownHostsFile', name: string | undefined]
  const files = blocks.flatMap(([at, ssh]): Named[] => [
    [at, 'keyFile', ssh?.keyFile],
    [at, 'knownHostsFile', ssh?.knownHostsFile],
    ...(ssh?.jump ?? []).map((h, hi): Named => [`${at}/jump/${hi}`, 'keyFile', h.keyFile]),
  ])
  for (const [at, key, name] of files) {
    if (!name) continue
    const file = path.resolve(inv.dir, name)
    const label = `${key} ${file}`
    try {
      const bytes = readRegularFileOnce(file, { label, maxBytes: key === 'keyFile' ? MAX_BYTES.key : MAX_BYTES.knownHosts })
      const why = key === 'keyFile' ? checkKey(bytes) : (decodeUtf8(bytes, label), undefined)
      if (why) out.push(`${shown}: ${at}/${key}: ${file} ${why}`)
    } catch (e) {
      if (!(e instanceof FileRefusedError)) throw e
      if (e.code === 'ENOENT') continue
      out.push(`${shown}: ${at}/${key}: ${file}: ${e.message.slice(label.length + 2)}`)
    }
  }
  return out
}

/** loadInventory, then the SSH files it names: what every playbook loads through (lib/cli.ts inventoryFrom). */
export function loadCheckedInventory(file?: string): LoadedInventory {
  const inv = loadInventory(file)
  const shown = file ?? inv.file
  const lines = sshFileProblems(inv, shown)
  if (lines.length) throw new InputError(`${shown}: unusable SSH files (${lines.length})\n${lines.join('\n')}`, lines)
  return inv
}
