// Quoting for commands that a remote login shell will parse.
// zx's quote() emits bash's $'…' form, which dash and busybox sh do not understand, and a
// node's login shell is not ours to choose; POSIX single quotes work in every sh.

/** Quotes one word for any POSIX shell. */
export function shq(word: string | number): string {
  const s = String(word)
  if (s !== '' && /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(s) && !s.startsWith('-')) return s
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** Joins an argument vector into one safely quoted command line. */
export function shJoin(argv: (string | number)[]): string {
  return argv.map(shq).join(' ')
}

/** Tagged template: interpolated values are quoted, arrays become several quoted words. */
export function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0]
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map((x) => shq(String(x))).join(' ') : shq(String(v))
    out += strings[i + 1]
  })
  return out
}
