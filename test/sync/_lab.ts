// Shared by the sync lab tests: build odd trees on a node, and fingerprint a tree (types, modes,
// names, link targets, content hashes) so two nodes can be compared exactly.
import * as assert from 'uvu/assert'
import type { TestLab } from '../helpers/lab.ts'

/** File names the issue lists: spaces, quotes, $(...), ;, a leading -, non-ASCII, and more. */
export const ODD_NAMES = [
  'with space',
  "single'quote",
  'double"quote',
  '$(touch hapair-pwned)',
  '`id`',
  'semi;colon',
  '-leading-dash',
  '--delete',
  'ünïcødé-日本語',
  'back\\slash',
  'star*and?[x]',
  'new\nline',
  'tab\tname',
  '.hidden',
  '#hash',
  'amp&pipe|',
]

/** uvu drops an error thrown in a before hook without a word: print it. */
export const loud = (fn: () => Promise<void>) => async () => {
  try {
    await fn()
  } catch (e) {
    console.error('test setup failed:', e)
    throw e
  }
}

/** Where a command injected through a file name would have left its mark. */
export async function pwned(lab: TestLab, node: string): Promise<boolean> {
  return (await lab.exec(node, ['sh', '-c', 'ls / /root /tmp /srv/app /srv/app/odd 2>/dev/null | grep -qx hapair-pwned'])).code === 0
}

/** Runs argv on a node and fails the test on a non-zero exit. */
export async function on(lab: TestLab, node: string, argv: string[], input?: string): Promise<string> {
  const r = await lab.exec(node, argv, input === undefined ? {} : { input })
  assert.is(r.code, 0, `${node}: ${argv.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** A shell script run on the node with its own arguments ("$@"), so names are never re-parsed. */
export const script = (lab: TestLab, node: string, text: string, ...args: string[]) => on(lab, node, ['sh', '-c', text, 'sh', ...args])

/** Writes every odd name (as a file, and as a directory holding a file), a symlink and a nested tree under dir. */
export async function oddTree(lab: TestLab, node: string, dir: string): Promise<void> {
  await script(
    lab,
    node,
    `set -e; mkdir -p "$1"; cd "$1"; shift
    for n in "$@"; do printf 'content of %s\\n' "$n" > "./$n"; mkdir -p "./dir $n"; printf 'inner %s\\n' "$n" > "./dir $n/f"; done
    mkdir -p deep/er/est; echo deep > deep/er/est/file; chmod 640 deep/er/est/file; chmod 750 deep/er
    ln -sfn 'deep/er/est/file' link-to-file; ln -sfn '../outside target' dangling-link`,
    dir,
    ...ODD_NAMES,
  )
}

/** Type, mode, name and link target of every entry, plus the sha256 of every file, in a stable order; skip: paths pruned. */
export async function fingerprint(lab: TestLab, node: string, dir: string, skip: string[] = []): Promise<string> {
  const prune = skip.flatMap((s) => ['-path', `./${s}`, '-o']).slice(0, -1)
  const findArgs = prune.length ? ['(', ...prune, ')', '-prune', '-o'] : []
  return script(
    lab,
    node,
    `cd "$1" || exit 1; shift
    find . -mindepth 1 "$@" -printf '%y %m %P -> %l\\0' | sort -z | tr '\\0' '\\n'
    find . -mindepth 1 "$@" -type f -print0 | sort -z | xargs -0 -r sha256sum --`,
    dir,
    ...findArgs,
  )
}

export const readOn = (lab: TestLab, node: string, file: string) => script(lab, node, 'cat "$1"', file)
