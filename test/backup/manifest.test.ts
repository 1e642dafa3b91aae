import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { compareRestore, normalizeMember, parseManifest, parseTarVerbose, unescapeTar, type Restored } from '../../lib/backup/manifest.ts'

const H1 = '1'.repeat(64)
const H2 = '2'.repeat(64)

test('normalizeMember: ./, / and trailing slashes name the same member', () => {
  for (const p of ['./srv/app/x', '/srv/app/x', 'srv/app/x', 'srv/app/x/', '//srv/app/x']) assert.is(normalizeMember(p), 'srv/app/x')
})

test('unescapeTar: GNU tar escape quoting', () => {
  assert.is(unescapeTar('a\\nb\\\\c\\303\\251'), 'a\nb\\c\u00c3\u00a9')
})

test('parseTarVerbose: sizes of files, directories marked, links named without their target', () => {
  const text = [
    'drwxr-xr-x root/root         0 2024-05-02 00:23 app/',
    '-rw-r--r-- root/root        51 2024-05-02 00:23 app/data/customers.csv',
    '-rw-r--r-- root/root         3 2024-05-02 00:23:41 app/with space.txt',
    'lrwxrwxrwx root/root         0 2024-05-02 00:23 app/link -> data/customers.csv',
    'hrw-r--r-- root/root         0 2024-05-02 00:23 app/hard link to app/data/customers.csv',
    'tar: some warning',
  ].join('\n')
  assert.equal(parseTarVerbose(text), [
    { path: 'app', dir: true, size: undefined },
    { path: 'app/data/customers.csv', dir: false, size: 51 },
    { path: 'app/with space.txt', dir: false, size: 3 },
    { path: 'app/link', dir: false, size: undefined },
    { path: 'app/hard', dir: false, size: 0 },
  ])
})

const kinds: [string, string, string, number][] = [
  ['sha256sum output', `${H1}  ./app/a\n${H2} *app/b\n`, 'sha256', 2],
  ['tar -tv listing', '-rw-r--r-- root/root 5 2024-05-02 00:23 app/a\n', 'tar-verbose', 1],
  ['plain paths (tar -t)', 'app/\napp/a\napp/data/\n', 'paths', 3],
  ['comments and blank lines ignored', '# made by backup.sh\n\napp/a\n', 'paths', 1],
]
for (const [name, text, kind, n] of kinds) {
  test(`parseManifest: ${name}`, () => {
    const m = parseManifest(text)
    assert.is(m.kind, kind)
    assert.is(m.entries.length, n)
  })
}

test('parseManifest: an escaped sha256sum name is unescaped', () => {
  assert.equal(parseManifest(`\\${H1}  app/new\\nline\n`).entries, [{ path: 'app/new\nline', digest: H1, dir: false }])
})

const restored = (o: Record<string, Restored>) => new Map(Object.entries(o))
const cmp: [string, ReturnType<typeof parseManifest>['entries'], Map<string, Restored>, string[]][] = [
  ['all there by digest', [{ path: 'a', digest: H1, dir: false }], restored({ a: { type: 'f', size: 1, digest: H1 } }), []],
  ['content differs', [{ path: 'a', digest: H1, dir: false }], restored({ a: { type: 'f', size: 1, digest: H2 } }), ['a (content differs from the manifest)']],
  ['size differs', [{ path: 'a', size: 3, dir: false }], restored({ a: { type: 'f', size: 4 } }), ['a (size 4, manifest 3)']],
  [
    'not restored',
    [
      { path: 'a', dir: false },
      { path: 'b', dir: false },
    ],
    restored({ a: { type: 'f', size: 1 } }),
    ['b (not restored)'],
  ],
  [
    'restored but not in the manifest',
    [{ path: 'a', dir: false }],
    restored({ a: { type: 'f', size: 1 }, x: { type: 'f', size: 1 }, d: { type: 'd', size: 0 } }),
    ['x (restored, not in the manifest)'],
  ],
  ['a directory entry must come out as a directory', [{ path: 'd', dir: true }], restored({ d: { type: 'f', size: 0 } }), ['d (not a directory)']],
]
for (const [name, expected, got, problems] of cmp) {
  test(`compareRestore: ${name}`, () => {
    const c = compareRestore(expected, got)
    assert.equal(c.problems, problems)
    assert.is(c.ok, problems.length === 0)
  })
}

test.run()
