import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { formatJunit, xmlEscape } from '../../lib/report/junit.ts'
import { sample } from './fixtures.ts'

const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) }).parse(xml)

test('junit: well-formed XML, one suite per pair, one testcase per check', () => {
  const xml = formatJunit(sample, { timestamp: new Date('2024-05-02T00:23:41Z') })
  assert.is(XMLValidator.validate(xml), true)
  const doc = parse(xml)
  assert.is(doc.testsuites.tests, '5')
  assert.is(doc.testsuites.failures, '2')
  const suites = doc.testsuites.testsuite
  assert.equal(
    suites.map((s: any) => s.name),
    ['hapair verify: demo', 'hapair verify: other'],
  )
  assert.is(suites[0].timestamp, '2024-05-02T00:23:41')
  assert.is(suites[0].testcase.length, 4)
  const failed = suites[0].testcase.find((c: any) => c.failure)
  assert.is(failed.classname, 'demo.node-b')
  assert.is(failed.name, 'sync-drift')
  assert.is(failed.time, '0.211')
  assert.is(failed.failure.message, sample[3].detail)
  const passed = suites[0].testcase.find((c: any) => c.name === 'links')
  assert.is(passed['system-out'], 'reaches peer node-b')
})

test('junit: control characters from a remote message do not break the XML', () => {
  const xml = formatJunit([{ ...sample[0], ok: false, detail: 'bad \u0001 byte \u001b[31m' }])
  assert.is(XMLValidator.validate(xml), true)
})

test('xmlEscape escapes the five XML specials', () => {
  assert.is(xmlEscape(`<a b="c" d='e'>&`), '&lt;a b=&quot;c&quot; d=&apos;e&apos;&gt;&amp;')
})

test('junit: an empty run is still a valid report', () => {
  const xml = formatJunit([])
  assert.is(XMLValidator.validate(xml), true)
  assert.is(parse(xml).testsuites.tests, '0')
})

test.run()
