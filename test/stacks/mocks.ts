// The one Pulumi mocks module (setMocks is process-wide): every stack test imports it before
// building resources. Providers compute some outputs (addresses, ids); the mock invents
// stable, documentation-range values for those, and records every resource declared.
import * as pulumi from '@pulumi/pulumi'

export interface Declared { type: string; name: string; id: string; inputs: Record<string, any>; custom: boolean }

export const declared: Declared[] = []
let seq = 0

/** Provider-computed outputs, by resource type. */
function computed(type: string, inputs: Record<string, any>, n: number): Record<string, unknown> {
  switch (type) {
    case 'hcloud:index/server:Server':
      return { ipv4Address: `203.0.113.${n % 250}`, ipv6Address: `2001:db8:${n.toString(16)}::1`, ipv6Network: `2001:db8:${n.toString(16)}::/64`, status: 'running' }
    case 'hcloud:index/floatingIp:FloatingIp':
      return inputs.type === 'ipv6'
        ? { ipAddress: `2001:db8:f${n.toString(16)}::`, ipNetwork: `2001:db8:f${n.toString(16)}::/64` }
        : { ipAddress: `198.51.100.${n % 250}`, ipNetwork: `198.51.100.${n % 250}/32` }
    case 'digitalocean:index/droplet:Droplet':
      return { ipv4Address: `203.0.113.${n % 250}`, ipv6Address: `2001:db8:d${n.toString(16)}::2`, status: 'active' }
    case 'digitalocean:index/reservedIp:ReservedIp':
      return { ipAddress: `198.51.100.${n % 250}` }
    case 'digitalocean:index/sshKey:SshKey':
      return { fingerprint: `3b:16:${n.toString(16).padStart(2, '0')}:00` }
    case 'digitalocean:index/tag:Tag':
      return { name: inputs.name }
    default:
      return {}
  }
}

pulumi.runtime.setMocks({
  newResource(args) {
    const n = ++seq
    const id = String(10_000 + n)
    declared.push({ type: args.type, name: args.name, id, inputs: args.inputs, custom: args.custom !== false })
    return { id, state: { ...args.inputs, ...computed(args.type, args.inputs, n) } }
  },
  call: (args) => args.inputs,
}, 'hapair-test', 'test', false)

/** The resolved value of an Output (all are known under mocks outside preview). */
export const value = <T>(o: pulumi.Input<T>): Promise<T> => new Promise((resolve) => pulumi.output(o).apply((v) => { resolve(v as T); return v }))

/** The URN, for policy failure messages. */
export const urnOf = (r: pulumi.Resource): Promise<string> => value(r.urn)

export const setConfig = (key: string, v: string) => pulumi.runtime.setConfig(key, v)
