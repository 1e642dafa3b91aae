// Every command line a reader can copy from the README, docs/ and examples/ is one the playbook
// accepts: the playbook exists, its options exist and take a value or not as written, and its
// first word names one of its commands (`watch pause`, `hostkeys pin`). Synopsis lines are read
// the same way with their brackets dropped: `[--pair P]` is checked as `--pair P`.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DEFINITIONS } from '../lib/options/index.ts'
import { parseCommandLine } from '../lib/cli/parse.ts'
import type { PlaybookDef } from '../lib/cli/define.ts'

const walk = (d: string): string[] => readdirSync(d, { recursive: true }).map((f) => path.join(d, String(f)))
const files = ['README.md', ...walk('docs').filter((f) => f.endsWith('.md')), ...walk('examples').filter((f) => /\.(ya?ml|service|timer)$/.test(f))]
const names = new Set(DEFINITIONS.map((d) => d.playbook))

// A playbook by file (`npx zx playbooks/x.ts`, `node --import tsx playbooks/x.ts`, the built
// dist/playbooks/x.js) or by the installed bin (`hapair x`); the words up to the end of the
// command (a pipe, a redirection, a comment, a closing backtick or parenthesis).
const RE = /(?:(?:npx zx|node(?: --import tsx)?) (?:dist\/)?playbooks\/([a-z-]+)\.[tj]s|(?<![\w/.$-])hapair ([a-z][a-z-]*))((?:[ \t]+[^\s`|;&#)<>]+)*)/g

export interface Found {
  where: string
  playbook: string
  args: string[]
  /** In a code block or an example file (else inline prose, where "hapair keeps…" is English). */
  code: boolean
}

export function commandsIn(file: string, text: string): Found[] {
  const md = file.endsWith('.md')
  let fence = !md
  const out: Found[] = []
  // A command continued with a trailing backslash is one line.
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n')
  lines.forEach((line, i) => {
    if (md && /^\s*(```|~~~)/.test(line)) {
      fence = !fence
      return
    }
    for (const m of line.matchAll(RE)) {
      const byFile = m[1] !== undefined
      const playbook = m[1] ?? m[2]!
      // Prose ("hapair keeps …", a unit's Description=) names no playbook; a line of a code block
      // that starts with `hapair WORD` is a command, and an unknown WORD an error.
      const starts = md && fence && line.slice(0, m.index).replace(/^\s*\$?\s*/, '') === ''
      if (!byFile && !names.has(playbook) && !starts) continue
      const args = m[3]!
        .replace(/[[\]]|…|\.\.\.(?=\s|$)/g, ' ')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => w.replace(/^["']|["']$/g, '').split('|')[0]!)
      out.push({ where: `${file}:${i + 1}`, playbook, args, code: fence || !md })
    }
  })
  return out
}

function definition(playbook: string, args: string[]): PlaybookDef | undefined {
  const defs = DEFINITIONS.filter((d) => d.playbook === playbook)
  return defs.find((d) => d.mode && args.includes(d.mode)) ?? defs.find((d) => !d.mode)
}

/** Why the command line would not run as written, or undefined. */
export function problem(f: Found): string | undefined {
  const def = definition(f.playbook, f.args)
  if (!def) return `no playbook ${f.playbook} (there are: ${[...names].join(', ')})`
  let parsed: { _: string[] }
  try {
    parsed = parseCommandLine(def, f.args) as { _: string[] }
  } catch (e) {
    return (e as Error).message
  }
  const words = new Set((def.commands ?? []).flatMap((c) => c.name.split(' ')[0]!.split('|')))
  const first = parsed._[0]
  if (words.size && first !== undefined && !words.has(first) && !/^[A-Z]/.test(first)) return `no command ${first} (there are: ${[...words].join(', ')})`
  return undefined
}

const found = files.flatMap((f) => commandsIn(f, readFileSync(f, 'utf8')))

test('the README, docs/ and examples/ show commands (the scan finds them)', () => {
  assert.ok(found.filter((f) => f.code).length > 40, `only ${found.length} command lines found`)
  for (const p of ['status', 'failover', 'sync', 'verify', 'watch', 'import-stack', 'hostkeys'])
    assert.ok(
      found.some((f) => f.playbook === p),
      p,
    )
})

test('every command line shown runs as written: playbook, command and options exist', () => {
  const bad = found.flatMap((f) => {
    const why = problem(f)
    return why ? [`${f.where}: ${f.playbook} ${f.args.join(' ')}: ${why}`] : []
  })
  assert.equal(bad, [])
})

test('the check can fail: an unknown option, a switch given a value, a missing value, an unknown command or playbook', () => {
  const one = (line: string) => commandsIn('x.md', '```\n' + line + '\n```\n')[0]!
  assert.match(problem(one('npx zx playbooks/status.ts --pairs web'))!, /unknown option: --pairs/)
  assert.match(problem(one('hapair failback --inventory f.json --to'))!, /--to/)
  assert.match(problem(one('npx zx playbooks/watch.ts halt --pair web'))!, /no command halt/)
  assert.match(problem(one('hapair statsu'))!, /no playbook statsu/)
  assert.match(problem(one('node --import tsx playbooks/verify.ts --deep=yes'))!, /deep/)
  assert.is(problem(one('npx zx playbooks/sync.ts --follow [--pair P] [--batch-ms 150]')), undefined)
  assert.equal(one('pulumi stack output --json | npx zx playbooks/import-stack.ts \\\n   --stack-output - --out f.json').args, [
    '--stack-output',
    '-',
    '--out',
    'f.json',
  ])
  assert.is(commandsIn('x.md', 'hapair keeps a pair boring').length, 0, 'prose is not a command')
})

test.run()
