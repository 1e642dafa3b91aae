// Real ED25519 key pairs from node:crypto, written the way OpenSSH (and the Pulumi tls
// provider's privateKeyOpenssh / publicKeyOpenssh) writes them, so the stack tests' mocks and
// the lab hand out keys that sshd loads and whose fingerprints ssh-keygen -lf agrees with.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'

const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const str = (b: Buffer | string) => {
  const x = Buffer.isBuffer(b) ? b : Buffer.from(b)
  return Buffer.concat([u32(x.length), x])
}

export interface Ed25519Pair {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----" … (unencrypted openssh-key-v1), newline-terminated. */
  privateKeyOpenssh: string
  /** "ssh-ed25519 AAAA…" followed by a newline, as the tls provider writes it (no comment). */
  publicKeyOpenssh: string
  /** SHA256:… of the public key blob, as ssh-keygen -lf prints it. */
  fingerprint: string
}

export function ed25519Pair(comment = ''): Ed25519Pair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url')
  const blob = Buffer.concat([str('ssh-ed25519'), str(pub)])
  const check = randomBytes(4)
  let priv = Buffer.concat([check, check, str('ssh-ed25519'), str(pub), str(Buffer.concat([seed, pub])), str(comment)])
  // The private section is padded with 1, 2, 3, … to the cipher's block size (8 for "none").
  const pad = (8 - (priv.length % 8)) % 8
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))])
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), str('none'), str('none'), str(''), u32(1), str(blob), str(priv)])
  const b64 = body
    .toString('base64')
    .match(/.{1,70}/g)!
    .join('\n')
  return {
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKeyOpenssh: `ssh-ed25519 ${blob.toString('base64')}\n`,
    fingerprint: 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, ''),
  }
}
