// The parser made from a definition (lib/cli/parse.ts): what it accepts, and that every usage
// error is exit 2 (InputError) naming the option, in process, without spawning a playbook.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseCommandLine } from '../../lib/cli/parse.ts'
import { definePlaybook, INVENTORY, JSON_OUTPUT } from '../../lib/cli/define.ts'
import { EXIT, InputError } from '../../lib/errors.ts'
import { FAILBACK } from '../../lib/options/failover.ts'
import { INFLIGHT_MODES } from '../../lib/sync/follow/recover.ts'
import { POLICY } from '../../lib/options/policy.ts'
import { POLICIES } from '../../lib/sync/types.ts'

const DEF = definePlaybook({
  playbook: 'demo',
  options: [
    INVENTORY,
    { name: 'pair', type: 'string', value: 'NAME', noun: 'a pair name', multiple: true, help: 'pairs (repeat)' },
    { name: 'to', type: 'string', value: 'NODE', noun: 'a node name', help: 'target' },
    { name: 'mode', type: 'string', value: 'MODE', choices: ['fast', 'slow'], help: 'how' },
    { name: 'yes', type: 'boolean', short: 'y', help: 'yes' },
    JSON_OUTPUT,
  ],
  exit: 'exit 0',
})

function refused(argv: string[], want: RegExp) {
  try {
    parseCommandLine(DEF, argv)
  } catch (e) {
    assert.instance(e, InputError, String(e))
    assert.is((e as InputError).exitCode, EXIT.badInput)
    assert.match((e as Error).message, want)
    return
  }
  assert.unreachable(`${argv.join(' ')}: accepted`)
}

test('values by long name; booleans false when absent; repeated values in order; words before and after "--"', () => {
  const a = parseCommandLine(DEF, ['up', '--pair', 'a', '-y', '--pair=b', '--to', 'n1', 'x', '--', 'ls', '--all'])
  assert.equal(a.pair, ['a', 'b'])
  assert.is(a.to, 'n1')
  assert.is(a.yes, true)
  assert.is(a.json, false)
  assert.is(a.inventory, undefined)
  assert.equal(a._, ['up', 'x'])
  assert.equal(a['--'], ['ls', '--all'])
  assert.equal(parseCommandLine(DEF, []).pair, [])
})

test('a value may start with "-" when attached, and "-" alone is a value (stdin)', () => {
  assert.is(parseCommandLine(DEF, ['--to=-x']).to, '-x')
  assert.is(parseCommandLine(DEF, ['--inventory', '-']).inventory, '-')
})

test('an unknown option is refused, every one named, with the known ones', () => {
  refused(['--zz'], /^unknown option: --zz \(known: --inventory --pair --to --mode --yes -y --json --help\)$/)
  refused(['--zz', '-q', '--to', 'a'], /^unknown options: --zz -q \(known: /)
})

test('a value option without its value is refused, naming it and what it needs', () => {
  refused(['--to'], /^--to needs a node name \(it is the last argument\)$/)
  refused(['--pair', '--yes'], /^--pair needs a pair name \(it is followed by --yes\)$/)
  refused(['--pair='], /^--pair needs a pair name$/)
  refused(['--mode'], /^--mode needs a value/)
})

test('a value given to a switch, a second value where one is taken, a value not among the choices: refused, naming the option', () => {
  refused(['--json=yes'], /--json/)
  refused(['--to', 'a', '--to', 'b'], /^--to was given 2 times \(a, b\): give it once$/)
  refused(['--mode', 'medium'], /^--mode must be fast or slow \(got "medium"\)$/)
})

test('--help and -h parse as help; after "--" they belong to the command', () => {
  assert.is(parseCommandLine(DEF, ['-h']).help, true)
  assert.is(parseCommandLine(DEF, ['--', '-h']).help, false)
})

test("the definitions' fixed lists are the code's: failback --inflight, policy's policies", () => {
  const inflight = FAILBACK.options.find((o) => o.name === 'inflight')!
  assert.equal([...inflight.choices!], [...INFLIGHT_MODES])
  for (const p of POLICIES)
    assert.ok(
      POLICY.about!.some((l) => l.includes(p)),
      p,
    )
})

test.run()
