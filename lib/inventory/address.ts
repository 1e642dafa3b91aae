// IPv4 and IPv6 addresses and prefixes as numbers: comparing spellings is how 2001:db8::1 and
// 2001:db8:0::1 end up "different" and a subnet test gives nonsense.

export interface Ip {
  v: 4 | 6
  n: bigint
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.')
  if (parts.length !== 4 || !parts.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)) return undefined
  return parts.reduce((n, o) => n * 256n + BigInt(o), 0n)
}

function parseIpv6(s: string): bigint | undefined {
  // An embedded IPv4 tail (::ffff:192.0.2.1) is the last two 16-bit words.
  const tail = s.slice(s.lastIndexOf(':') + 1)
  if (tail.includes('.')) {
    const v4 = parseIpv4(tail)
    if (v4 === undefined) return undefined
    s = s.slice(0, s.length - tail.length) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const words = (h: string) => (h === '' ? [] : h.split(':'))
  const left = words(halves[0])
  const right = halves.length === 2 ? words(halves[1]) : []
  const fill = 8 - left.length - right.length
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined
  const all = [...left, ...Array<string>(fill).fill('0'), ...right]
  if (!all.every((w) => /^[0-9a-fA-F]{1,4}$/.test(w))) return undefined
  return all.reduce((acc, w) => acc * 65536n + BigInt(parseInt(w, 16)), 0n)
}

export function parseIp(s: unknown): Ip | undefined {
  if (typeof s !== 'string') return undefined
  if (s.includes(':')) {
    const n = parseIpv6(s)
    return n === undefined ? undefined : { v: 6, n }
  }
  const n = parseIpv4(s)
  return n === undefined ? undefined : { v: 4, n }
}

/** One spelling per address, so 2001:db8::1 and 2001:db8:0::1 compare equal. */
export const ipKey = (s: string) => {
  const ip = parseIp(s)
  return ip ? `${ip.v}/${ip.n}` : s
}

export function parseCidr(c: unknown): { base: Ip; bits: number } | undefined {
  if (typeof c !== 'string') return undefined
  const [addr, bits, ...rest] = c.split('/')
  const base = parseIp(addr)
  const n = Number(bits)
  if (!base || rest.length || !/^\d{1,3}$/.test(bits ?? '') || n > (base.v === 4 ? 32 : 128)) return undefined
  return { base, bits: n }
}

export function maskOf(v: 4 | 6, bits: number): bigint {
  const width = v === 4 ? 32n : 128n
  return ((1n << width) - 1n) ^ ((1n << (width - BigInt(bits))) - 1n)
}

export function inSubnet(address: string, cidr: string): boolean {
  const ip = parseIp(address)
  const net = parseCidr(cidr)
  if (!ip || !net || ip.v !== net.base.v) return false
  const mask = maskOf(ip.v, net.bits)
  return (ip.n & mask) === (net.base.n & mask)
}

/** True for the network or broadcast address of an IPv4 subnet shorter than /31 (unusable as a host). */
export function reservedInSubnet(address: string, cidr: string): boolean {
  const ip = parseIp(address)
  const net = parseCidr(cidr)
  if (!ip || !net || ip.v !== 4 || net.base.v !== 4 || net.bits > 30) return false
  const mask = maskOf(4, net.bits)
  const host = ip.n & ~mask & 0xffffffffn
  return host === 0n || host === (~mask & 0xffffffffn)
}
