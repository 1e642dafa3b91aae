// What a backup says it contains, and whether a test restore produced exactly that. Three
// listing forms are understood: sha256sum lines ("<hex>  path"), `tar -tv` lines (sizes), and
// plain path lists (`tar -t`, `find`). Pure, so every form is tested on its own.
export interface Expected {
  path: string
  digest?: string
  size?: number
  dir: boolean
}
/** Only what compareRestore compares; the restore's listing (lib/listing.ts) carries more. */
export interface Restored {
  type: string
  size: number
  digest?: string
}

/** "./srv/app/x", "/srv/app/x/" and "srv/app/x" name the same member. */
export function normalizeMember(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '')
}

/** GNU tar's default quoting (escape style): \\ \n \t \ooo. */
export function unescapeTar(s: string): string {
  return s.replace(/\\([0-7]{3}|.)/g, (_, c: string) => {
    if (/^[0-7]{3}$/.test(c)) return String.fromCharCode(parseInt(c, 8))
    return ({ n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', b: '\b', a: '\x07' } as Record<string, string>)[c] ?? c
  })
}

const TAR_V = /^([-dlhcbps])[-rwxsStTl]{9}\S*\s+\S+\s+(\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)? (.*)$/
const SHA = /^\\?([0-9a-f]{64}) [ *](.+)$/

export function parseTarVerbose(text: string): Expected[] {
  const out: Expected[] = []
  for (const line of text.split('\n')) {
    const m = TAR_V.exec(line)
    if (!m) continue
    let name = m[3]
    if (m[1] === 'l') name = name.replace(/ -> .*$/, '')
    if (m[1] === 'h') name = name.replace(/ link to .*$/, '')
    const path = normalizeMember(unescapeTar(name))
    if (!path) continue
    out.push({ path, dir: m[1] === 'd', size: m[1] === '-' || m[1] === 'h' ? Number(m[2]) : undefined })
  }
  return out
}

export type ManifestKind = 'sha256' | 'tar-verbose' | 'paths'

export function parseManifest(text: string): { kind: ManifestKind; entries: Expected[] } {
  const lines = text.split('\n').filter((l) => l.trim() && !l.startsWith('#'))
  if (lines.length && lines.every((l) => SHA.test(l))) {
    return {
      kind: 'sha256',
      entries: lines.map((l) => {
        const m = SHA.exec(l)!
        // sha256sum marks a name it had to escape with a leading backslash.
        const name = l.startsWith('\\') ? m[2].replace(/\\n/g, '\n').replace(/\\\\/g, '\\') : m[2]
        return { path: normalizeMember(name), digest: m[1], dir: false }
      }),
    }
  }
  if (lines.length && lines.every((l) => TAR_V.test(l))) return { kind: 'tar-verbose', entries: parseTarVerbose(text) }
  return {
    kind: 'paths',
    entries: lines.map((l) => ({ path: normalizeMember(l), dir: l.endsWith('/') })).filter((e) => e.path),
  }
}

export interface RestoreComparison {
  ok: boolean
  checked: number
  problems: string[]
}

/**
 * Every expected member was restored with its digest or size, and every restored regular
 * file was expected: a member the manifest does not know is as wrong as one that is missing.
 */
export function compareRestore(expected: Expected[], restored: Map<string, Restored>): RestoreComparison {
  const problems: string[] = []
  const known = new Set<string>()
  let checked = 0
  for (const e of expected) {
    known.add(e.path)
    const r = restored.get(e.path)
    if (!r) {
      problems.push(`${e.path} (not restored)`)
      continue
    }
    if (e.dir) {
      if (r.type !== 'd') problems.push(`${e.path} (not a directory)`)
      continue
    }
    checked++
    if (e.digest && r.type === 'f' && r.digest !== e.digest) problems.push(`${e.path} (content differs from the manifest)`)
    else if (e.size !== undefined && r.type === 'f' && r.size !== e.size) problems.push(`${e.path} (size ${r.size}, manifest ${e.size})`)
  }
  for (const [p, r] of restored) if (r.type === 'f' && !known.has(p)) problems.push(`${p} (restored, not in the manifest)`)
  return { ok: problems.length === 0, checked, problems: problems.sort() }
}
