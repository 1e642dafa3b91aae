// The lines one text removes from and adds to another (longest common subsequence), so a test can
// say "this edit changed exactly these lines" without depending on where they are.
export function lineDiff(a: string, b: string): { removed: string[]; added: string[] } {
  const x = a.split('\n'),
    y = b.split('\n')
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0))
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const removed: string[] = [],
    added: string[] = []
  let i = 0,
    j = 0
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) (i++, j++)
    else if (j < y.length && (i === x.length || lcs[i][j + 1] >= lcs[i + 1][j])) added.push(y[j++])
    else removed.push(x[i++])
  }
  return { removed, added }
}
