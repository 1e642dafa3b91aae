// Every link a reader can follow from the README and docs/ leads somewhere: a relative link names a
// file or directory of the repository, and an #anchor names a heading of its target file, as
// GitHub derives anchors from headings (lowercase, spaces to '-', punctuation other than '-' and
// '_' dropped, a repeated heading gets -1, -2, …).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const files = [
  'README.md',
  ...(existsSync('docs')
    ? readdirSync('docs', { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.md'))
        .map((f) => path.join('docs', f))
    : []),
]

/** Markdown without its fenced code blocks and inline code spans: links there are not links. */
function prose(md: string): string {
  let fence = false
  return md
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fence = !fence
        return ''
      }
      return fence ? '' : line.replace(/(`+)[^`]*?\1/g, '')
    })
    .join('\n')
}

/** GitHub's anchor for a heading's text. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\p{M}\- _]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a Markdown file defines: its headings (outside code blocks), numbered when repeated. */
export function anchors(md: string): Set<string> {
  const out = new Set<string>()
  const seen = new Map<string, number>()
  let fence = false
  for (const line of md.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence
      continue
    }
    const m = !fence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!m) continue
    const s = slug(m[1])
    const n = seen.get(s) ?? 0
    seen.set(s, n + 1)
    out.add(n ? `${s}-${n}` : s)
  }
  for (const m of md.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1])
  return out
}

/** The dead links of one file: relative targets that do not exist, anchors their target lacks. */
export function deadLinks(file: string, md: string, read: (f: string) => string | undefined): string[] {
  const out: string[] = []
  const text = prose(md)
  const targets = [
    ...[...text.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]),
  ]
  for (const target of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:, file:
    const hash = target.indexOf('#')
    const rel = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1))
    const resolved = rel ? path.normalize(path.join(path.dirname(file), rel)) : file
    if (rel && (resolved.startsWith('..') || !existsSync(resolved))) {
      out.push(`${file}: ${target}: no such file`)
      continue
    }
    if (anchor === undefined) continue
    const body = resolved === file ? md : existsSync(resolved) && statSync(resolved).isFile() ? read(resolved) : undefined
    if (body === undefined || !resolved.endsWith('.md')) {
      out.push(`${file}: ${target}: an anchor into something that is not a Markdown file`)
      continue
    }
    if (!anchors(body).has(anchor)) out.push(`${file}: ${target}: no heading "#${anchor}" in ${resolved}`)
  }
  return out
}

const read = (f: string) => readFileSync(f, 'utf8')

test('GitHub anchors: lowercase, spaces to -, punctuation dropped except - and _', () => {
  assert.is(slug('Continuous sync: `sync.ts --follow`'), 'continuous-sync-syncts---follow')
  assert.is(slug('Start-up (`bench/startup`)'), 'start-up-benchstartup')
  assert.is(slug("hostkeys: pinning a new or rebuilt node's key"), 'hostkeys-pinning-a-new-or-rebuilt-nodes-key')
  assert.is(slug('Security: what is trusted, where and why'), 'security-what-is-trusted-where-and-why')
  assert.is(slug('snake_case and [a link](x.md)'), 'snake_case-and-a-link')
  assert.equal([...anchors('# A\n## A\n```\n# not a heading\n```\n### b_c!')], ['a', 'a-1', 'b_c'])
})

test('the checker finds a missing file, a missing anchor here and one in another file', () => {
  const md =
    '# Top\n\n[ok](#top) [gone](#nowhere) [file](no/such.md) [there](docs-links.test.ts)\n[other](README.md#no-such-heading) [readme](README.md)\n`[code](#not-a-link)`\n```\n[fenced](#not-either)\n```\n'
  const dead = deadLinks('x.md', md, read)
  assert.equal(dead, [
    'x.md: #nowhere: no heading "#nowhere" in x.md',
    'x.md: no/such.md: no such file',
    'x.md: docs-links.test.ts: no such file',
    'x.md: README.md#no-such-heading: no heading "#no-such-heading" in README.md',
  ])
  // From docs/, a repository file is one directory up.
  assert.equal(deadLinks('docs/x.md', '[up](../package.json) [wrong](package.json)', read), ['docs/x.md: package.json: no such file'])
})

test('the README links to docs/, and every docs/ file back to the README', () => {
  const readme = read('README.md')
  const docs = files.filter((f) => f !== 'README.md')
  assert.ok(docs.length > 0, 'no docs/')
  for (const f of docs) {
    assert.ok(readme.includes(`](${f})`) || readme.includes(`](${f}#`), `README.md does not link to ${f}`)
    assert.match(read(f), /\]\(\.\.\/README\.md[)#]/, `${f} does not link back to the README`)
  }
})

test('no dead link in README.md and docs/*.md', () => {
  const dead = files.flatMap((f) => deadLinks(f, read(f), read))
  assert.equal(dead, [], dead.join('\n'))
})

test.run()
