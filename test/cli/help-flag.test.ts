// --help and -h are the playbook's only before "--": after it they are the command's own
// (`lab exec NODE -- ls -h` runs ls, it does not print lab's usage).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { playbook } from '../helpers/playbook.ts'

test('lab exec NODE -- CMD -h: the -h goes to CMD, not to lab', async () => {
  const r = await playbook('lab', ['exec', 'node-a', '--inventory', 'no/such/inventory.json', '--', 'ls', '-h'])
  assert.not.match(r.stdout, /^usage:/m, r.stdout)
  assert.is(r.code, 2, r.stderr)
})

test('-h before "--" prints the usage, exit 0', async () => {
  const r = await playbook('lab', ['-h'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /^usage: npx zx playbooks\/lab\.ts COMMAND/)
})

test.run()
