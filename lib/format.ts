// How hapair writes sizes, durations and times for people: one home, one meaning per name.

/** Binary units (KiB, MiB: what df and du print), for disk and archive sizes. */
export function iecBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

/** Decimal units (kB, MB: what rsync prints), for transfers and rates. */
export function siBytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n,
    u = -1
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`
}

/** A duration in seconds as a person says it: 40 s, 12 min, 3.5 h, 2.0 days. */
export function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 90) return `${s} s`
  if (s < 90 * 60) return `${Math.round(s / 60)} min`
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`
  return `${(s / 86400).toFixed(1)} days`
}

/** Epoch seconds as an ISO timestamp without fractions. */
export const isoSeconds = (epochSeconds: number) => new Date(Math.round(epochSeconds * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z')

/**
 * "a, b, c and 4 more": the first `max` items, then how many were left out. Items that hold
 * commas of their own are listed with sep '; ', and the tail is set off by one too ("a; b; and
 * 4 more"), so it is not read as part of the last item.
 */
export function listSome(items: string[], max: number, sep: ', ' | '; ' = ', '): string {
  if (items.length <= max) return items.join(sep)
  return `${items.slice(0, max).join(sep)}${sep === '; ' ? sep : ' '}and ${items.length - max} more`
}
