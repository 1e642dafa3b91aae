import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { estimateSkew, judgeSkew, parseRemoteClock } from '../../lib/checks/skew.ts'

// Real skew cannot be made in the lab (namespaces share one kernel clock), so the arithmetic is tested here.
const cases: [string, { sentMs: number; receivedMs: number; remoteMs: number }[], { offsetMs: number; rttMs: number }][] = [
  ['in sync, symmetric path', [{ sentMs: 1000, receivedMs: 1010, remoteMs: 1005 }], { offsetMs: 0, rttMs: 10 }],
  ['node 700 ms ahead', [{ sentMs: 1000, receivedMs: 1020, remoteMs: 1710 }], { offsetMs: 700, rttMs: 20 }],
  ['node behind', [{ sentMs: 5000, receivedMs: 5004, remoteMs: 4002 }], { offsetMs: -1000, rttMs: 4 }],
  [
    'shortest round trip wins',
    [
      { sentMs: 0, receivedMs: 300, remoteMs: 290 }, // answered late: naive offset 140
      { sentMs: 1000, receivedMs: 1002, remoteMs: 1001 },
      { sentMs: 2000, receivedMs: 2100, remoteMs: 2010 },
    ],
    { offsetMs: 0, rttMs: 2 },
  ],
]
for (const [name, samples, want] of cases) {
  test(`estimateSkew: ${name}`, () => {
    const e = estimateSkew(samples)
    assert.is(e.offsetMs, want.offsetMs)
    assert.is(e.rttMs, want.rttMs)
    assert.is(e.boundMs, want.rttMs / 2)
  })
}

test('estimateSkew without samples throws', () => assert.throws(() => estimateSkew([]), /no clock samples/))

const judge: [string, number, number, number, boolean, RegExp][] = [
  ['well within', 3, 2, 500, true, /3\.0 ms ahead of the controller \(± 1\.0 ms, max 500 ms\)/],
  ['behind, within', -120, 10, 500, true, /120 ms behind/],
  ['clearly over', 800, 10, 500, false, /clock 800 ms ahead .*check NTP/],
  ['over by less than the uncertainty: cannot tell', 505, 40, 500, false, /cannot tell/],
  ['inside, but the uncertainty reaches past the limit: cannot tell', 490, 40, 500, false, /cannot tell/],
]
for (const [name, offsetMs, rttMs, max, ok, re] of judge) {
  test(`judgeSkew: ${name}`, () => {
    const v = judgeSkew({ offsetMs, rttMs, boundMs: rttMs / 2 }, max)
    assert.is(v.ok, ok)
    assert.match(v.detail, re)
  })
}

test('parseRemoteClock keeps sub-millisecond precision and rejects anything but digits', () => {
  assert.is(parseRemoteClock('1714609421123456789\n'), 1714609421123.456789)
  assert.throws(() => parseRemoteClock('%N\n'), /GNU date/)
  assert.throws(() => parseRemoteClock(''), /unexpected clock reading/)
})

test.run()
