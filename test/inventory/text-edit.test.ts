// Edits inside an inventory's own text: the changed value differs, every other byte stays.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { jsonApply, jsonSet, yamlApply, yamlSet, yamlSetScalar } from '../../lib/inventory/text-edit.ts'

const json = `{
  "a": { "driver": "x", "x": { "k": 1 } },
  "b": {
    "driver": "x",
    "x": { "k": 1 },
    "z": 2
  },
  "c": [1, 2],
  "d": []
}
`

test('jsonApply: replaced, removed, grown and new values; the untouched lines keep their bytes', () => {
  const after = { a: { driver: 'h' }, b: { driver: 'h', z: 2 }, c: [1, 2, 3], d: [{ n: 1 }], n: { deep: [1] } }
  const out = jsonApply(json, JSON.parse(json), after)
  assert.equal(JSON.parse(out), after)
  assert.is(
    out,
    `{
  "a": { "driver": "h" },
  "b": {
    "driver": "h",
    "z": 2
  },
  "c": [1, 2, 3],
  "d": [
    {
      "n": 1
    }
  ],
  "n": {
    "deep": [
      1
    ]
  }
}
`,
  )
  assert.is(jsonApply(out, after, after), out, 'nothing to change: the same text')
})

test('jsonSet: a missing parent is created with the value inside it', () => {
  const out = jsonSet(json, ['b', 'y', 'w'], 'v')
  assert.is(out, json.replace('"z": 2\n', '"z": 2,\n    "y": {\n      "w": "v"\n    }\n'))
})

const yaml = `# top
a:   # a map
  b: 'quoted'   # keep me
  c: {x: 1}
d: [1, 2]`

test('yamlSetScalar: an existing value keeps its comment; a missing key is one new line; a flow map gets ", k: v"', () => {
  assert.is(yamlSetScalar(yaml, ['a', 'b'], 'plain'), yaml.replace("'quoted'", 'plain'))
  assert.is(yamlSetScalar(yaml, ['a', 'e'], 'new'), yaml.replace('  c: {x: 1}\n', '  c: {x: 1}\n  e: new\n'))
  assert.is(yamlSetScalar(yaml, ['a', 'c', 'y'], '2'), yaml.replace('{x: 1}', '{x: 1, y: 2}'))
  assert.is(yamlSetScalar(yaml, ['f'], 'end'), `${yaml}\nf: end`, 'a file without a final newline gains the key on a line of its own')
  assert.is(yamlSetScalar(yaml.replace(/\n/g, '\r\n'), ['a', 'e'], 'new'), yaml.replace('  c: {x: 1}\n', '  c: {x: 1}\n  e: new\n').replace(/\n/g, '\r\n'))
})

test('yamlSetScalar: no mapping to add to: undefined (the caller decides)', () => {
  assert.is(yamlSetScalar(yaml, ['q', 'r'], 'v'), undefined)
  assert.is(yamlSetScalar(yaml, ['d', 'r'], 'v'), undefined)
})

// Written by hand: comments, flow mappings of both spacings, quoting, blank lines, three-space indent.
const hand = `# reviewed in git
top:
   name: "web"   # quoted on purpose
   nodes:
      - { name: a, interface: eth0 }   # first
      - {name: b}
   fencing:
      driver: lab # for now
      lab: {dir: /x}

   last: 1
list: [1, 2]
`

test('yamlSet: a scalar keeps its quoting and comment; a flow item gains entries in its own spacing', () => {
  assert.is(yamlSet(hand, ['top', 'name'], 'db'), hand.replace('"web"', '"db"'))
  assert.is(yamlSet(hand, ['top', 'last'], 2), hand.replace('last: 1', 'last: 2'))
  assert.is(
    yamlSet(hand, ['top', 'nodes', 0, 'hcloud'], { serverId: 7 }),
    hand.replace('{ name: a, interface: eth0 }', '{ name: a, interface: eth0, hcloud: { serverId: 7 } }'),
  )
  assert.is(yamlSet(hand, ['top', 'nodes', 1, 'address'], '2001:db8::1'), hand.replace('{name: b}', '{name: b, address: 2001:db8::1}'))
  assert.is(yamlSet(hand, ['top', 'nodes', 1, 'note'], 'a, b'), hand.replace('{name: b}', '{name: b, note: "a, b"}'), 'quoted where a flow context needs it')
  assert.is(yamlSet(hand, ['list', 2], 3), hand.replace('[1, 2]', '[1, 2, 3]'))
  const long = 'a description longer than the eighty columns the yaml library folds its output at, kept on its line'
  assert.is(yamlSet(hand, ['top', 'name'], long), hand.replace('"web"', JSON.stringify(long)))
  assert.is(yamlSet(hand, ['top', 'last'], long), hand.replace('last: 1', `last: ${long}`))
  const empty = hand.replace('last: 1', 'last:')
  assert.is(yamlSet(empty, ['top', 'last'], 'x'), hand.replace('last: 1', 'last: x'), 'an empty value is filled, not glued to its colon')
})

test("yamlSet: a new block entry at the mapping's indentation, after its last entry; a replaced block rewritten in place", () => {
  assert.is(
    yamlSet(hand, ['top', 'floatingIps'], [{ name: 'vip', address: '192.0.2.10' }]),
    hand.replace('   last: 1\n', '   last: 1\n   floatingIps:\n      - name: vip\n        address: 192.0.2.10\n'),
  )
  assert.is(
    yamlSet(hand, ['top', 'fencing'], { driver: 'hcloud' }),
    hand.replace('      driver: lab # for now\n      lab: {dir: /x}\n', '      driver: hcloud\n'),
  )
  assert.is(yamlSet(hand, ['top', 'fencing', 'lab'], undefined), hand.replace('      lab: {dir: /x}\n', ''))
  assert.is(yamlSet(hand, ['top', 'nodes', 0, 'interface'], undefined), hand.replace('{ name: a, interface: eth0 }', '{ name: a }'))
  assert.is(yamlSet(hand, ['top', 'nodes', 1, 'name'], undefined), hand.replace('{name: b}', '{}'))
  assert.is(yamlSet(hand, ['top', 'nodes', 2], { name: 'c' }), hand.replace('      - {name: b}\n', '      - {name: b}\n      - name: c\n'))
  assert.is(yamlSet(hand, ['top', 'missing', 'deep'], 1), hand.replace('   last: 1\n', '   last: 1\n   missing:\n      deep: 1\n'))
})

test('yamlApply: only the changed values differ; every other byte, comment and key order stays; no change is the same text', () => {
  const before = YAML.parse(hand)
  const after = JSON.parse(JSON.stringify(before))
  after.top.nodes[0].address = '192.0.2.1'
  after.top.nodes[1].address = '192.0.2.2'
  after.top.fencing.driver = 'hcloud'
  delete after.top.fencing.lab
  after.top.floatingIps = [{ name: 'vip', address: '192.0.2.10' }]
  const out = yamlApply(hand, before, after)
  assert.equal(YAML.parse(out), after)
  assert.is(
    out,
    hand
      .replace('{ name: a, interface: eth0 }', '{ name: a, interface: eth0, address: 192.0.2.1 }')
      .replace('{name: b}', '{name: b, address: 192.0.2.2}')
      .replace('driver: lab # for now\n      lab: {dir: /x}\n', 'driver: hcloud # for now\n')
      .replace('   last: 1\n', '   last: 1\n   floatingIps:\n      - name: vip\n        address: 192.0.2.10\n'),
  )
  assert.is(yamlApply(out, after, after), out)
  const crlf = hand.replace(/\n/g, '\r\n')
  assert.is(yamlApply(crlf, before, { ...before, list: [1, 2, 3] }), crlf.replace('[1, 2]', '[1, 2, 3]'))
})

test.run()
