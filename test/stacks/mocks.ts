// The one Pulumi mocks module (setMocks is process-wide): every stack test imports it before
// building resources. Providers compute some outputs (addresses, ids); the mock invents
// stable, documentation-range values for those, and records every resource declared.
// A tls.PrivateKey gets a real ED25519 key pair (node:crypto), so fingerprints are real.
import * as pulumi from '@pulumi/pulumi'
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc.js'
import { ed25519Pair } from '../helpers/ed25519.ts'

export interface Declared {
  type: string
  name: string
  id: string
  inputs: Record<string, any>
  custom: boolean
  provider?: string
}

export const declared: Declared[] = []
/** Every resource's state by id, so one resource's computed outputs can follow another's. */
const states = new Map<string, Record<string, any>>()
let seq = 0

/** SSH keys already in the (mocked) provider project: what getSshKey finds. Tests add to it. */
export interface ProjectSshKey {
  id: number
  name: string
  fingerprint: string
  publicKey: string
}
export const projectSshKeys: ProjectSshKey[] = []
/** Every invoke (data source lookup) the programs made. */
export const invoked: { token: string; inputs: Record<string, any> }[] = []

/** A value the engine would keep encrypted in the state: the SDK's wire form of a secret. */
const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value })

/** Provider-computed outputs, by resource type. */
function computed(type: string, inputs: Record<string, any>, n: number): Record<string, unknown> {
  switch (type) {
    case 'hcloud:index/server:Server': {
      // A server created on primary IPs has their addresses, as Hetzner gives it.
      const net = inputs.publicNets?.[0] ?? {}
      const v4 = net.ipv4 !== undefined ? states.get(String(net.ipv4)) : undefined
      const v6 = net.ipv6 !== undefined ? states.get(String(net.ipv6)) : undefined
      return {
        ipv4Address: v4?.ipAddress ?? `203.0.113.${n % 250}`,
        ipv6Address: v6 ? `${String(v6.ipNetwork).split('/')[0]}1` : `2001:db8:${n.toString(16)}::1`,
        ipv6Network: v6?.ipNetwork ?? `2001:db8:${n.toString(16)}::/64`,
        status: 'running',
      }
    }
    case 'hcloud:index/primaryIp:PrimaryIp':
      return inputs.type === 'ipv6'
        ? { ipAddress: `2001:db8:a${n.toString(16)}::`, ipNetwork: `2001:db8:a${n.toString(16)}::/64` }
        : { ipAddress: `203.0.113.${n % 250}`, ipNetwork: `203.0.113.${n % 250}/32` }
    case 'hcloud:index/floatingIp:FloatingIp':
      return inputs.type === 'ipv6'
        ? { ipAddress: `2001:db8:f${n.toString(16)}::`, ipNetwork: `2001:db8:f${n.toString(16)}::/64` }
        : { ipAddress: `198.51.100.${n % 250}`, ipNetwork: `198.51.100.${n % 250}/32` }
    case 'digitalocean:index/droplet:Droplet':
      return { ipv4Address: `203.0.113.${n % 250}`, ipv6Address: `2001:db8:d${n.toString(16)}::2`, ipv4AddressPrivate: `10.110.0.${n % 250}`, status: 'active' }
    case 'digitalocean:index/vpc:Vpc':
      // DigitalOcean picks the range when none is given.
      return { ipRange: inputs.ipRange ?? '10.110.0.0/20', urn: `do:vpc:${n}` }
    case 'digitalocean:index/reservedIp:ReservedIp':
      return { ipAddress: `198.51.100.${n % 250}` }
    case 'digitalocean:index/sshKey:SshKey':
      return { fingerprint: `3b:16:${n.toString(16).padStart(2, '0')}:00` }
    case 'digitalocean:index/tag:Tag':
      return { name: inputs.name }
    case 'tls:index/privateKey:PrivateKey': {
      if (inputs.algorithm !== 'ED25519') throw new Error(`mock tls.PrivateKey: only ED25519 is mocked (got ${inputs.algorithm})`)
      const k = ed25519Pair()
      // The provider declares these additionalSecretOutputs; the mock monitor ignores that option, so the mock marks them itself.
      return {
        privateKeyOpenssh: secret(k.privateKeyOpenssh),
        privateKeyPem: secret('(mock: not generated)'),
        privateKeyPemPkcs8: secret('(mock: not generated)'),
        publicKeyOpenssh: k.publicKeyOpenssh,
        publicKeyFingerprintSha256: k.fingerprint,
        publicKeyPem: '(mock: not generated)',
      }
    }
    default:
      return {}
  }
}

pulumi.runtime.setMocks(
  {
    newResource(args) {
      const n = ++seq
      const id = String(10_000 + n)
      declared.push({ type: args.type, name: args.name, id, inputs: args.inputs, custom: args.custom !== false, provider: args.provider })
      const state = { ...args.inputs, ...computed(args.type, args.inputs, n) }
      states.set(id, state)
      return { id, state }
    },
    call(args) {
      invoked.push({ token: args.token, inputs: args.inputs })
      if (args.token === 'hcloud:index/getSshKey:getSshKey' || args.token === 'digitalocean:index/getSshKey:getSshKey') {
        const { id, name, fingerprint } = args.inputs
        const k = projectSshKeys.find(
          (x) => (id === undefined || x.id === id) && (name === undefined || x.name === name) && (fingerprint === undefined || x.fingerprint === fingerprint),
        )
        // The providers fail the lookup (and so the preview) when nothing matches.
        if (!k) throw new Error(`no SSH key found for ${JSON.stringify(args.inputs)}`)
        return { ...k, labels: {} }
      }
      return args.inputs
    },
  },
  'hapair-test',
  'test',
  false,
)

/** What the provider would report for a resource: its inputs and computed outputs, by id. */
export const stateOf = (id: string): Record<string, any> | undefined => states.get(id)

/** The resolved value of an Output (all are known under mocks outside preview). */
export const value = <T>(o: pulumi.Input<T>): Promise<T> =>
  new Promise((resolve) =>
    pulumi.output(o).apply((v) => {
      resolve(v as T)
      return v
    }),
  )

/** The URN, for policy failure messages. */
export const urnOf = (r: pulumi.Resource): Promise<string> => value(r.urn)

export const setConfig = (key: string, v: string) => pulumi.runtime.setConfig(key, v)
