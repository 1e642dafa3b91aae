// The controller's private key file, read the way the inventory is: a regular file of bounded size,
// once per run, and checked to be a private key before ssh2 sees it (ssh2 throws from inside connect).
// ssh2 is CommonJS: its utils are on the default export only.
import ssh2 from 'ssh2'
import { FileRefusedError, MAX_BYTES, readRegularFileOnce } from './inventory/read-file.ts'

const checked = new WeakSet<Buffer>()

export const MISSING_KEY_NOTE = "the inventory's ssh.keyFile; a relative one resolves from the inventory file's directory"

/** The key's bytes; FileRefusedError (exit 2) when it is missing, not a regular file, too large, or not a usable private key. */
export function readPrivateKey(file: string): Buffer {
  const label = `keyFile ${file}`
  let bytes: Buffer
  try {
    bytes = readRegularFileOnce(file, { label, maxBytes: MAX_BYTES.key })
  } catch (e) {
    // Loading the inventory lets a missing key pass (the lab writes its keys later); by the time
    // a node is asked, it is the inventory's or the deployment's fault, never the node's.
    if (e instanceof FileRefusedError && e.code === 'ENOENT') throw new FileRefusedError(`key file ${file} does not exist (${MISSING_KEY_NOTE})`)
    throw e
  }
  if (checked.has(bytes)) return bytes
  const parsed = ssh2.utils.parseKey(bytes)
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  // ssh2's own words ("Unsupported key format", "…no passphrase given") say what is wrong; they never quote the file.
  if (key instanceof Error || !key) throw new FileRefusedError(`${label}: not a usable private key: ${key ? key.message : 'empty'}`)
  if (!key.isPrivateKey()) throw new FileRefusedError(`${label}: is a public key; keyFile must name the private key`)
  checked.add(bytes)
  return bytes
}
