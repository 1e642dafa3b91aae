// policy get|set: one value changes in the inventory file, the rest of the file is byte-for-byte
// what its author wrote (JSON and YAML), the result validates, and a bad request writes nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { InputError } from '../../lib/errors.ts'
import { loadInventory } from '../../lib/inventory/load.ts'
import { editText, policyAt, setPolicy } from '../../lib/sync/policy-file.ts'
import { json, playbook } from '../helpers/playbook.ts'
import { lineDiff } from '../helpers/line-diff.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'hapair-policy-'))
const labText = readFileSync('inventory/lab.json', 'utf8')
let n = 0
function copy(text = labText, ext = 'json'): string {
  const f = path.join(dir, `inv-${++n}.${ext}`)
  writeFileSync(f, text)
  return f
}
/** Lines that differ between two texts of the same length in lines. */
function changed(a: string, b: string): string[] {
  const x = a.split('\n'),
    y = b.split('\n')
  assert.is(y.length, x.length, 'no line added or removed')
  return y.filter((l, i) => l !== x[i])
}
const noTemps = () =>
  assert.equal(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  )

test('get: explicit and default policies', () => {
  const inv = loadInventory(copy(labText.replace('"policy": "always", ', '')))
  assert.equal([policyAt(inv, 'demo', 'app').policy, policyAt(inv, 'demo', 'app').explicit], ['equal', true])
  assert.equal([policyAt(inv, 'demo', 'config').policy, policyAt(inv, 'demo', 'config').explicit], ['equal', false])
})

test("set (JSON): exactly the one value changes; everything else is the author's text", () => {
  const f = copy()
  const r = setPolicy(f, 'demo', 'app', 'downgrade')
  assert.equal([r.before, r.policy, r.changed], ['equal', 'downgrade', true])
  assert.equal(changed(labText, readFileSync(f, 'utf8')), [
    labText
      .split('\n')
      .find((l) => l.includes('"policy": "equal"'))!
      .replace('"equal"', '"downgrade"'),
  ])
  assert.is(loadInventory(f).data.pairs[0].sync!.items[0].policy, 'downgrade')
  noTemps()
})

test("set (JSON): an absent policy is added beside its neighbours, in the file's indentation", () => {
  const text = JSON.stringify(
    {
      version: 1,
      pairs: [
        {
          name: 'p',
          primary: 'a',
          nodes: [
            { name: 'a', address: '192.0.2.1' },
            { name: 'b', address: '192.0.2.2' },
          ],
          sync: { items: [{ name: 'x', path: '/srv/x' }] },
        },
      ],
    },
    null,
    '\t',
  )
  const f = copy(text)
  setPolicy(f, 'p', 'x', 'upgrade')
  const after = readFileSync(f, 'utf8')
  assert.match(after, /\n\t{6}"path": "\/srv\/x",\n\t{6}"policy": "upgrade"\n/)
  assert.equal(JSON.parse(after).pairs[0].sync.items[0], { name: 'x', path: '/srv/x', policy: 'upgrade' })
})

test('set (YAML): comments and layout stay; one line changes', () => {
  const yaml = YAML.stringify(JSON.parse(labText))
    .replace('pairs:\n', '# the lab pair, edited by hand\npairs:\n')
    .replace(/( +)policy: always\n/, '$1policy: always # config may cross versions\n')
  const f = copy(yaml, 'yaml')
  setPolicy(f, 'demo', 'config', 'equal')
  const diff = changed(yaml, readFileSync(f, 'utf8'))
  assert.equal(
    diff.map((l) => l.trim()),
    ['policy: equal # config may cross versions'],
  )
  assert.match(readFileSync(f, 'utf8'), '# the lab pair, edited by hand')
})

test('set (YAML): an absent policy is added to the item', () => {
  const f = copy(
    'version: 1\npairs:\n  - name: p\n    primary: a\n    nodes: [{ name: a, address: 192.0.2.1 }, { name: b, address: 192.0.2.2 }]\n    sync:\n      items:\n        - name: x # the only item\n          path: /srv/x\n',
    'yml',
  )
  setPolicy(f, 'p', 'x', 'always')
  const after = readFileSync(f, 'utf8')
  assert.match(after, '- name: x # the only item')
  assert.is(loadInventory(f).data.pairs[0].sync!.items[0].policy, 'always')
})

// An inventory as people write it by hand: comments, flow mappings, quoting, blank lines, odd indentation.
const handYaml = `# web pair, reviewed in git
version: 1

pairs:
   - name: p   # three-space indent on purpose
     primary: a
     nodes: [{name: a, address: 192.0.2.1}, { name: b, address: "192.0.2.2" }]

     sync:
        items:
           - name: x # the only block item
             path: '/srv/x'
             protect: [ '/srv/x/keep' ]

           - {name: y, path: /srv/y}   # flow item
`

test('set (YAML): a missing policy inserts one line; the rest of the file is byte-identical; again is a no-op', () => {
  const f = copy(handYaml, 'yaml')
  assert.is(setPolicy(f, 'p', 'x', 'upgrade').changed, true)
  const after = readFileSync(f, 'utf8')
  assert.is(after, handYaml.replace("             protect: [ '/srv/x/keep' ]\n", "             protect: [ '/srv/x/keep' ]\n             policy: upgrade\n"))
  assert.is(setPolicy(f, 'p', 'x', 'upgrade').changed, false)
  assert.is(readFileSync(f, 'utf8'), after, 'the second identical edit writes nothing')
  assert.is(setPolicy(f, 'p', 'x', 'always').changed, true)
  assert.is(readFileSync(f, 'utf8'), after.replace('policy: upgrade', 'policy: always'))
})

test('set (YAML): a flow-mapping item gains ", policy: …" and stays a flow mapping', () => {
  const f = copy(handYaml, 'yaml')
  setPolicy(f, 'p', 'y', 'always')
  const after = readFileSync(f, 'utf8')
  assert.is(after, handYaml.replace('{name: y, path: /srv/y}', '{name: y, path: /srv/y, policy: always}'))
  setPolicy(f, 'p', 'y', 'always')
  assert.is(readFileSync(f, 'utf8'), after)
})

const handJson = `{
   "version": 1,
   "pairs": [
      {
         "name": "p", "primary": "a",
         "nodes": [{"name": "a", "address": "192.0.2.1"}, {"name": "b", "address": "192.0.2.2"}],
         "sync": {"items": [{"name": "x", "path": "/srv/x"},
                            {
                               "name": "y",
                               "path": "/srv/y"
                            }]}
      }
   ]
}
`

test('set (JSON): a one-line item gains the key on its line; a multi-line one a line in its indentation; again is a no-op', () => {
  const f = copy(handJson)
  setPolicy(f, 'p', 'x', 'downgrade')
  const once = readFileSync(f, 'utf8')
  assert.is(once, handJson.replace('{"name": "x", "path": "/srv/x"}', '{"name": "x", "path": "/srv/x", "policy": "downgrade"}'))
  setPolicy(f, 'p', 'y', 'always')
  const twice = readFileSync(f, 'utf8')
  assert.is(twice, once.replace('"path": "/srv/y"\n', '"path": "/srv/y",\n                               "policy": "always"\n'))
  setPolicy(f, 'p', 'y', 'always')
  assert.is(readFileSync(f, 'utf8'), twice)
})

test('set (JSON): CRLF line endings and tabs are kept', () => {
  const text = handJson.replace(/\n/g, '\r\n').replace(/ {3}/g, '\t')
  const f = copy(text)
  setPolicy(f, 'p', 'y', 'always')
  const after = readFileSync(f, 'utf8')
  assert.ok(!/[^\r]\n/.test(after), 'every line ends in CRLF')
  assert.equal(lineDiff(text.replace(/\r/g, ''), after.replace(/\r/g, '')).added.length, 2)
  assert.is(JSON.parse(after).pairs[0].sync.items[1].policy, 'always')
})

test('set: the same value writes nothing', () => {
  const f = copy()
  const before = statSync(f).mtimeMs
  const r = setPolicy(f, 'demo', 'config', 'always')
  assert.is(r.changed, false)
  assert.is(statSync(f).mtimeMs, before)
})

test('set: the file keeps its mode, and a symlinked inventory stays a symlink to the edited file', () => {
  const real = copy()
  chmodSync(real, 0o640)
  const link = path.join(dir, 'link.json')
  symlinkSync(real, link)
  setPolicy(link, 'demo', 'app', 'always')
  assert.ok(lstatSync(link).isSymbolicLink())
  assert.is(statSync(real).mode & 0o777, 0o640)
  assert.is(loadInventory(real).data.pairs[0].sync!.items[0].policy, 'always')
})

// what, file text (undefined: the lab's), pair, item, policy, message
const refusals: [string, string | undefined, string, string, string | undefined, RegExp][] = [
  ['unknown policy', undefined, 'demo', 'app', 'sometimes', /must be one of equal, upgrade, downgrade, always \(got "sometimes"\)/],
  ['no policy', undefined, 'demo', 'app', undefined, /must be one of .* \(got nothing\)/],
  ['unknown pair', undefined, 'nope', 'app', 'always', /no pair named "nope"/],
  ['unknown item', undefined, 'demo', 'nope', 'always', /no sync item "nope" \(items: app, config\)/],
  ['inventory already invalid', labText.replace('"primary": "node-a"', '"primary": "node-z"'), 'demo', 'app', 'always', /invalid inventory/],
]
for (const [what, text, pair, item, policy, want] of refusals)
  test(`set refuses (${what}) and writes nothing`, () => {
    const f = copy(text)
    const before = readFileSync(f, 'utf8')
    try {
      setPolicy(f, pair, item, policy)
      assert.unreachable()
    } catch (e) {
      assert.instance(e, InputError)
      assert.match((e as Error).message, want)
    }
    assert.is(readFileSync(f, 'utf8'), before)
    noTemps()
  })

test('editText is pure and aims at the right item', () => {
  const out = editText(labText, 'x.json', ['pairs', 0, 'sync', 'items', 1, 'policy'], 'upgrade')
  const j = JSON.parse(out)
  assert.equal(
    j.pairs[0].sync.items.map((i: any) => i.policy),
    ['equal', 'upgrade'],
  )
})

test('CLI: get, set, get again; --json', async () => {
  const f = copy()
  let r = await playbook('policy', ['get', 'demo', 'app', '--inventory', f])
  assert.equal([r.code, r.stdout.trim()], [0, 'equal'])
  r = await playbook('policy', ['set', 'demo', 'app', 'upgrade', '--inventory', f, '--json'])
  assert.is(r.code, 0, r.stderr)
  assert.equal(json(r), { pair: 'demo', item: 'app', policy: 'upgrade', before: 'equal', changed: true, file: f })
  r = await playbook('policy', ['get', 'demo', 'app', '--inventory', f])
  assert.is(r.stdout.trim(), 'upgrade')
})

test('CLI: bad requests exit 2 with the usage', async () => {
  const f = copy()
  for (const args of [
    ['set', 'demo', 'app', 'nope'],
    ['get', 'demo'],
    ['frobnicate', 'demo', 'app'],
    ['set', 'demo', 'app', 'always', 'extra'],
  ]) {
    const r = await playbook('policy', [...args, '--inventory', f])
    assert.is(r.code, 2, args.join(' '))
    assert.ok(r.stderr.trim().length > 0)
  }
  assert.is(readFileSync(f, 'utf8'), labText)
})

test('CLI: set on a YAML item whose policy: has no value names the file and the path, says it is empty, exit 2, nothing written', async () => {
  const text = handYaml.replace("             protect: [ '/srv/x/keep' ]\n", "             protect: [ '/srv/x/keep' ]\n             policy:   # to decide\n")
  const f = copy(text, 'yaml')
  const r = await playbook('policy', ['set', 'p', 'x', 'always', '--inventory', f])
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, `${f}: pairs/0/sync/items/0/policy: must be one of "equal", "upgrade", "downgrade", "always"`)
  assert.match(r.stderr, 'got null, which is also what a YAML key with nothing after its colon reads as: give it a value, or remove the key')
  assert.is(readFileSync(f, 'utf8'), text)
  noTemps()
  const g = await playbook('policy', ['get', 'p', 'x', '--inventory', f])
  assert.is(g.code, 2)
  assert.match(g.stderr, `${f}: pairs/0/sync/items/0/policy: must be one of`)
})

// chattr +i: even root cannot replace the file. The refusal is one line naming the path, exit 2.
test('set on an immutable inventory: one line with the path, exit 2, nothing written, no temporary file left', async () => {
  const f = copy()
  try {
    execFileSync('chattr', ['+i', f])
  } catch {
    console.log('  (skipped: chattr +i not supported here)')
    return
  }
  try {
    const r = await playbook('policy', ['set', 'demo', 'app', 'always', '--inventory', f])
    assert.is(r.code, 2, r.stderr)
    assert.equal(r.stderr.trim().split('\n'), [`${f}: cannot replace the inventory: operation not permitted (EPERM); the inventory was not changed`])
    assert.is(readFileSync(f, 'utf8'), labText)
    noTemps()
  } finally {
    execFileSync('chattr', ['-i', f])
  }
})

test('set on an inventory in an immutable directory: the temporary file is refused, one line', () => {
  const sub = path.join(dir, 'locked')
  mkdirSync(sub)
  const f = path.join(sub, 'inv.json')
  writeFileSync(f, labText)
  try {
    execFileSync('chattr', ['+i', sub])
  } catch {
    return
  }
  try {
    setPolicy(f, 'demo', 'app', 'always')
    assert.unreachable('accepted')
  } catch (e) {
    assert.instance(e, InputError)
    assert.match(
      (e as Error).message,
      /^.*locked\/\.inv\.json\.\d+\.[0-9a-f]+\.tmp: cannot create a temporary file beside it: operation not permitted \(EPERM\)/,
    )
  } finally {
    execFileSync('chattr', ['-i', sub])
  }
  assert.is(readFileSync(f, 'utf8'), labText)
})

test.after(() => rmSync(dir, { recursive: true, force: true }))
test.run()
