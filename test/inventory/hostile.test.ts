// The corpus of hostile inventories (test/fixtures/hostile): every file there is run through the
// function playbooks/validate.ts runs, and must exit 2 with its expected located lines and no stack
// trace. A new case is two files: NAME.json (or .yaml) and NAME.json.expect, one line per expected
// problem ("json/path: fragment"), "!not: TEXT" for text that must not appear (a secret's bytes).
// Files that cannot live in git (a FIFO, a device, a 9 MB file, deep nesting) are made here.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateFiles } from '../../lib/inventory/validate-files.ts'
import { playbook } from '../helpers/playbook.ts'

const DIR = fileURLToPath(new URL('../fixtures/hostile/', import.meta.url))
const REL = 'test/fixtures/hostile'
const tmp = mkdtempSync(path.join(tmpdir(), 'hapair-hostile-'))
const STACK = /^\s+at .+:\d+:\d+\)?$/m

interface Expect {
  lines: { path: string; has: string }[]
  not: string[]
}

function parseExpect(text: string): Expect {
  const e: Expect = { lines: [], not: [] }
  for (const l of text.split('\n').filter(Boolean)) {
    if (l.startsWith('!not: ')) {
      e.not.push(l.slice(6))
      continue
    }
    const i = l.indexOf(': ')
    e.lines.push({ path: l.slice(0, i), has: l.slice(i + 2) })
  }
  return e
}

function check(file: string, want: Expect, r: { code: number | null; out: string; err: string }) {
  assert.is(r.code, 2, `exit ${r.code}:\n${r.out}\n${r.err}`)
  assert.not.match(r.out, /^ok: /m, 'a hostile inventory was accepted')
  assert.not.match(r.err, STACK, `stack trace:\n${r.err}`)
  assert.not.match(r.err, /internal error/, r.err)
  const lines = r.err.split('\n').filter(Boolean)
  for (const l of lines) assert.ok(l.startsWith(`${file}: `), `line not located in ${file}: ${l}`)
  for (const w of want.lines) {
    const prefix = `${file}: ${w.path}: `
    assert.ok(
      lines.some((l) => l.startsWith(prefix) && l.includes(w.has)),
      `expected "${prefix}…${w.has}…" among:\n${lines.join('\n')}`,
    )
  }
  for (const secret of want.not) assert.not.ok(r.err.includes(secret), `output quotes the file's content "${secret}":\n${r.err}`)
}

const inProcess = (file: string) => {
  const r = validateFiles([file])
  return { code: r.code, out: r.out.join('\n'), err: r.err.join('\n') }
}

// ---- the corpus in git -----------------------------------------------------------------------

const corpus = readdirSync(DIR)
  .filter((f) => /\.(json|ya?ml)$/.test(f))
  .sort()

test('the corpus holds every case of the issue and each file has its .expect', () => {
  assert.ok(corpus.length >= 20, `only ${corpus.length} files`)
  for (const f of corpus) assert.ok(existsSync(path.join(DIR, `${f}.expect`)), `${f} has no ${f}.expect`)
  for (const f of readdirSync(DIR).filter((f) => f.endsWith('.expect'))) assert.ok(corpus.includes(f.replace(/\.expect$/, '')), `${f} has no inventory`)
})

for (const f of corpus) {
  test(`hostile: ${f}`, () => {
    const file = `${REL}/${f}`
    check(file, parseExpect(readFileSync(path.join(DIR, `${f}.expect`), 'utf8')), inProcess(file))
  })
}

// ---- cases made at run time ------------------------------------------------------------------

const SECRET = 'hunter2-S3CR3T-do-not-print'
const made: { name: string; make: () => string; want: Expect }[] = [
  {
    name: 'a FIFO does not hang validate',
    make: () => {
      const f = path.join(tmp, 'fifo.json')
      execFileSync('mkfifo', [f])
      return f
    },
    want: { lines: [], not: [] },
  },
  {
    name: 'a symlink to /dev/zero',
    make: () => {
      const f = path.join(tmp, 'zero.json')
      symlinkSync('/dev/zero', f)
      return f
    },
    want: { lines: [], not: [] },
  },
  { name: 'a directory', make: () => tmp, want: { lines: [], not: [] } },
  {
    name: 'a file over the size limit',
    make: () => {
      const f = path.join(tmp, 'huge.json')
      writeFileSync(f, '{')
      truncateSync(f, 9 << 20)
      return f
    },
    want: { lines: [], not: [] },
  },
  {
    name: 'a symlink to a secret file (JSON name)',
    make: () => {
      const s = path.join(tmp, 'shadow')
      writeFileSync(s, `root:${SECRET}:19800:0:99999:7:::\n`, { mode: 0o600 })
      const f = path.join(tmp, 'secret.json')
      symlinkSync(s, f)
      return f
    },
    want: { lines: [{ path: '(root)', has: 'not valid JSON' }], not: [SECRET, 'root:'] },
  },
  {
    name: 'a symlink to a secret file (YAML name)',
    make: () => {
      const f = path.join(tmp, 'secret.yaml')
      symlinkSync(path.join(tmp, 'shadow'), f)
      return f
    },
    want: { lines: [{ path: '(root)', has: 'not an hapair inventory' }], not: [SECRET, 'root:'] },
  },
  {
    name: 'JSON nested 100 000 deep',
    make: () => {
      const f = path.join(tmp, 'deep.json')
      writeFileSync(f, '['.repeat(100_000))
      return f
    },
    want: { lines: [{ path: '(root)', has: 'not valid JSON' }], not: [] },
  },
  {
    name: 'YAML nested 20 000 deep',
    make: () => {
      const f = path.join(tmp, 'deep.yaml')
      writeFileSync(f, '['.repeat(20_000) + ']'.repeat(20_000))
      return f
    },
    want: { lines: [{ path: '(root)', has: 'not valid YAML' }], not: [] },
  },
  {
    name: 'a YAML alias bomb',
    make: () => {
      const f = path.join(tmp, 'bomb.yaml')
      writeFileSync(
        f,
        'a: &a [x, x, x, x, x, x, x, x, x]\n' +
          Array.from(
            { length: 8 },
            (_, i) =>
              `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
                .fill('*' + String.fromCharCode(97 + i))
                .join(', ')}]`,
          ).join('\n') +
          '\n',
      )
      return f
    },
    want: { lines: [{ path: '(root)', has: 'not valid YAML' }], not: [] },
  },
]
const FILE_LEVEL = /: cannot read inventory: (not a regular file \((a named pipe \(FIFO\)|a character device|a directory)\)|too large)/

for (const c of made) {
  test(`hostile (made here): ${c.name}`, () => {
    const file = c.make()
    const r = inProcess(file)
    check(file, c.want, r)
    if (!c.want.lines.length) assert.match(r.err, FILE_LEVEL)
  })
}

// ---- the same through the playbook, as CI runs it ---------------------------------------------

test('through playbooks/validate.ts: a FIFO, duplicate keys, a secret behind a symlink, bad UTF-8', async () => {
  const fifo = path.join(tmp, 'fifo2.json')
  execFileSync('mkfifo', [fifo])
  const files = [fifo, `${REL}/duplicate-primary.json`, path.join(tmp, 'secret.json'), `${REL}/invalid-utf8.json`]
  const r = await playbook(
    'validate',
    files.flatMap((f) => ['--inventory', f]),
    { timeoutMs: 30_000 },
  )
  assert.is(r.signal, null, 'validate hung (killed by the timeout)')
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, new RegExp(`^${fifo}: cannot read inventory: not a regular file \\(a named pipe \\(FIFO\\)\\)$`, 'm'))
  assert.match(r.stderr, /^test\/fixtures\/hostile\/duplicate-primary\.json: pairs\/0\/primary: duplicate key "primary" \(lines 12 and 13\)/m)
  assert.match(r.stderr, /secret\.json: \(root\): not valid JSON/)
  assert.match(r.stderr, /^test\/fixtures\/hostile\/invalid-utf8\.json: \(root\): not valid UTF-8 text/m)
  assert.not.ok(r.stderr.includes(SECRET))
  assert.not.match(r.stderr, STACK)
  assert.is(r.stdout, '')
})

test.after(() => rmSync(tmp, { recursive: true, force: true }))
test.run()
