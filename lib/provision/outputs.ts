// The contract between a stack and import-stack: what `pulumi stack output --json` prints.
// Both stacks export exactly this shape under the key "pairs", so one importer serves both.
import { Type as T, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InputError } from '../errors.ts'
import { parsePublicKey } from './node-keys.ts'

const Id = T.Integer({ minimum: 1 })

/** The public half of a key the stack generated: never a private key (the pattern admits none). */
export const StackKeyOutput = T.Object(
  {
    publicKey: T.String({ pattern: '^ssh-ed25519 [A-Za-z0-9+/]+={0,2}$' }),
    fingerprint: T.String({ pattern: '^SHA256:[A-Za-z0-9+/]{43}$' }),
  },
  { additionalProperties: false },
)

export const StackNodeOutput = T.Object(
  {
    /** Hetzner server id or DigitalOcean droplet id. */
    id: Id,
    ipv4: T.String({ description: 'IPv4 address (checked below: TypeBox has no format checkers registered)' }),
    ipv6: T.Optional(T.String()),
    /** The node's address on the pair's private network (absent in outputs of stacks older than it). */
    privateIpv4: T.Optional(T.String()),
    /** The sshd host key the stack generated (absent in outputs of stacks older than that). */
    hostKey: T.Optional(StackKeyOutput),
    /** The node's node-to-node sync key (its public half, authorized on the peers). */
    syncKey: T.Optional(StackKeyOutput),
  },
  { additionalProperties: false },
)

export const StackFloatingIpOutput = T.Object(
  {
    name: T.String({ minLength: 1 }),
    /** Hetzner floating IP id; DigitalOcean names a reserved IP by its address and has none. */
    id: T.Optional(Id),
    /** The address the active node's kernel holds (for an IPv6 floating network: its ::1). */
    address: T.String({ minLength: 1 }),
    family: T.Union([T.Literal('ipv4'), T.Literal('ipv6')]),
  },
  { additionalProperties: false },
)

export const StackPairOutput = T.Object(
  {
    provider: T.Union([T.Literal('hcloud'), T.Literal('digitalocean')]),
    nodes: T.Record(T.String(), StackNodeOutput),
    floatingIps: T.Array(StackFloatingIpOutput),
  },
  { additionalProperties: false },
)

export const StackOutputs = T.Object(
  {
    pairs: T.Record(T.String(), StackPairOutput),
  },
  { additionalProperties: true, description: 'pulumi stack output --json of stacks/hcloud or stacks/digitalocean' },
)

export type StackKeyOutput = Static<typeof StackKeyOutput>
export type StackNodeOutput = Static<typeof StackNodeOutput>
export type StackFloatingIpOutput = Static<typeof StackFloatingIpOutput>
export type StackPairOutput = Static<typeof StackPairOutput>
export type StackOutputs = Static<typeof StackOutputs>

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** Parses `pulumi stack output --json` text; every problem is one located line. */
export function parseStackOutputs(text: string, file: string): StackOutputs {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new InputError(`${file}: (root): not valid JSON: ${(e as Error).message.split('\n')[0]} (expected the output of \`pulumi stack output --json\`)`)
  }
  const problems: string[] = []
  if (!Value.Check(StackOutputs, data)) {
    for (const err of Value.Errors(StackOutputs, data)) problems.push(`${file}: ${err.path.replace(/^\//, '') || '(root)'}: ${err.message}`)
  } else {
    // TypeBox's Value.Check does not enforce "format" without a registered checker.
    for (const [pair, p] of Object.entries((data as StackOutputs).pairs)) {
      for (const [node, n] of Object.entries(p.nodes)) {
        const at = `${file}: pairs/${pair}/nodes/${node}`
        if (!IPV4.test(n.ipv4)) problems.push(`${at}/ipv4: not an IPv4 address (got ${JSON.stringify(n.ipv4)})`)
        if (n.privateIpv4 !== undefined && !IPV4.test(n.privateIpv4))
          problems.push(`${at}/privateIpv4: not an IPv4 address (got ${JSON.stringify(n.privateIpv4)})`)
        for (const k of ['hostKey', 'syncKey'] as const) {
          const key = n[k]
          if (!key) continue
          // A fingerprint that is not the key's own would pin one key and report another.
          try {
            const fp = parsePublicKey(key.publicKey, `${at}/${k}/publicKey`).fingerprint
            if (fp !== key.fingerprint) problems.push(`${at}/${k}/fingerprint: ${key.fingerprint} is not the fingerprint of publicKey (${fp})`)
          } catch (e) {
            if (!(e instanceof InputError)) throw e
            problems.push(e.message)
          }
        }
      }
    }
  }
  if (problems.length) {
    const unique = [...new Set(problems)]
    throw new InputError(`${file}: not a hapair stack output (${unique.length} problem${unique.length > 1 ? 's' : ''})\n${unique.join('\n')}`, unique)
  }
  return data as StackOutputs
}

/** Hetzner reports an IPv6 floating IP as its /64 network; the kernel holds the network's ::1. */
export function ipv6FloatingHost(ipOrNetwork: string): string {
  const base = ipOrNetwork.split('/')[0]
  return base.endsWith('::') ? `${base}1` : base
}
