// PostgreSQL WAL positions ("16/B374D848": high and low 32 bits in hex) as bigints, so that
// differences in bytes and comparisons are exact beyond 2^53.
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

export function parseLsn(s: string): bigint {
  const m = LSN.exec(s.trim())
  if (!m) throw new Error(`not a WAL position: ${JSON.stringify(s)}`)
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`)
}

export const isLsn = (s: unknown): s is string => typeof s === 'string' && LSN.test(s.trim())

export function formatLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`
}

/** Bytes from b to a (a - b), never negative: a standby ahead of a stale reading lags by 0. */
export function lagBytes(a: string, b: string): bigint {
  const d = parseLsn(a) - parseLsn(b)
  return d > 0n ? d : 0n
}

export const lsnMax = (xs: string[]): string | undefined =>
  xs.reduce<string | undefined>((m, x) => (m === undefined || parseLsn(x) > parseLsn(m) ? x : m), undefined)
