// .ci/run fails when the test run left lab namespaces behind, but only those of its own run: a
// demo lab someone left up, or another checkout's run on the same machine, is not this run's fault.
// The script runs as written, in a scratch copy, with npm and ip replaced by stubs on PATH.
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-ci-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))
const repo = path.join(dir, 'repo')
const bin = path.join(dir, 'bin')
const netns = path.join(dir, 'netns')
mkdirSync(path.join(repo, '.ci'), { recursive: true })
mkdirSync(bin)
copyFileSync('.ci/run', path.join(repo, '.ci', 'run'))
chmodSync(path.join(repo, '.ci', 'run'), 0o755)
// `ip netns list` prints the file; the fake test suite rewrites it as $AFTER says (what the run left).
writeFileSync(path.join(bin, 'ip'), `#!/bin/sh\n[ "$1 $2" = "netns list" ] && cat "${netns}"\nexit 0\n`)
writeFileSync(
  path.join(bin, 'npm'),
  `#!/bin/sh
[ "$1" = ci ] && exit 0
printf '%s' "$AFTER" > "${netns}"
printf '  Total:     3\\n  Passed:    3\\n'
exit 0
`,
)
chmodSync(path.join(bin, 'ip'), 0o755)
chmodSync(path.join(bin, 'npm'), 0o755)

function ci(before: string[], after: string[]) {
  writeFileSync(netns, before.map((n) => `${n} (id: 1)\n`).join(''))
  const r = spawnSync(path.join(repo, '.ci', 'run'), [], {
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, AFTER: after.map((n) => `${n} (id: 1)\n`).join('') },
  })
  return { code: r.status, out: r.stdout + r.stderr, last: r.stdout.trimEnd().split('\n').pop() }
}

test('namespaces that were there before the run do not fail it', () => {
  const r = ci(['hp-demo-a', 'hp-demo-b', 'other'], ['hp-demo-a', 'hp-demo-b', 'other'])
  assert.is(r.code, 0, r.out)
  assert.is(r.last, '3 passed, 0 failed')
  assert.not.match(r.out, /left behind/)
})

test('one the run made and left fails it, and only that one is named', () => {
  const r = ci(['hp-demo-a'], ['hp-demo-a', 'hp-t3-node-a'])
  assert.is(r.code, 1, r.out)
  assert.match(r.out, /1 lab namespace\(s\) left behind by this run: hp-t3-node-a/)
  assert.not.match(r.out.split('left behind')[1], /hp-demo-a/)
  assert.is(r.last, '3 passed, 1 failed')
})

test('a pre-existing one removed meanwhile (another run tearing down) is not a failure', () => {
  const r = ci(['hp-x-node-a'], [])
  assert.is(r.code, 0, r.out)
  assert.is(r.last, '3 passed, 0 failed')
})

test.run()
