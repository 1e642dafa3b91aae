// Edits inside an inventory's own text: the changed value differs, every other byte stays.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { jsonApply, jsonSet, yamlSetScalar } from '../../lib/inventory/text-edit.ts'

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

test.run()
