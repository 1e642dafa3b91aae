// Regular expressions a person writes into an inventory (error-log patterns) run against logs
// of unbounded size: this says which can backtrack exponentially. Used by validation (exit 2
// before anything runs) and by the log check, so both judge a pattern the same way.

/** The group's top-level alternatives can start alike (`(a|ab)`, `(.|x)`): a quantifier over them backtracks. */
function overlappingAlternatives(body: string): boolean {
  const alts: string[] = []
  let depth = 0
  let from = 0
  for (let i = 0; i <= body.length; i++) {
    const c = body[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if ((c === '|' && depth === 0) || i === body.length) {
      alts.push(body.slice(from, i).replace(/^\?[:=!]/, ''))
      from = i + 1
    }
  }
  if (alts.length < 2) return false
  const firsts = alts.map((a) => a[0] ?? '')
  return firsts.some((f, i) => f === '' || f === '.' || f === 'x' || f === '(' || firsts.indexOf(f) !== i)
}

/**
 * A quantified group that itself holds a quantifier, or quantified alternatives that can start
 * alike: `(a+)+`, `(x*)*`, `(a|a)*`, `(\w+\s?)+$`. These backtrack exponentially on a line that
 * almost matches. A heuristic, like safe-regex: the scan's time bound covers what it misses.
 */
export function catastrophicPattern(re: string): boolean {
  // Escapes and classes become one plain atom, so their brackets and quantifier characters do not count.
  const src = re.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x')
  const stack: { quantified: boolean; at: number }[] = []
  for (let i = 0; i < src.length; i++) {
    const c = src[i]
    if (c === '(') stack.push({ quantified: false, at: i + 1 })
    else if (c === ')') {
      const g = stack.pop()
      if (!g) continue
      const outer = /^[*+{]/.test(src.slice(i + 1))
      if (outer && (g.quantified || overlappingAlternatives(src.slice(g.at, i)))) return true
      if ((g.quantified || outer) && stack.length) stack[stack.length - 1].quantified = true
    } else if ((c === '*' || c === '+' || c === '{') && stack.length) stack[stack.length - 1].quantified = true
  }
  return false
}
