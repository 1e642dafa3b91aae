// The watcher's check loop against real local servers: which targets each round probes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import net from 'node:net'
import { CheckLoop, type CheckTarget } from '../../lib/watch/checks.ts'

/** A TCP server on 127.0.0.1 that counts connections and answers "node-a". */
async function server(): Promise<{ port: number; hits: () => number; close: () => void }> {
  let n = 0
  const s = net.createServer((c) => {
    n++
    c.end('node-a\n')
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return { port: (s.address() as net.AddressInfo).port, hits: () => n, close: () => s.close() }
}
const target = (key: string, port: number): CheckTarget => ({
  key,
  host: '127.0.0.1',
  service: key,
  check: { protocol: 'tcp', port, expect: '{node}' } as CheckTarget['check'],
  expect: () => 'node-a',
})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('every target every round without eachWithinMs; in turn with it, each still within its period', async () => {
  const [a, b] = [await server(), await server()]
  try {
    const all = new CheckLoop([target('a', a.port), target('b', b.port)], 50, 500)
    all.start()
    await sleep(520)
    all.stop()
    const full = [a.hits(), b.hits()]
    assert.ok(
      full.every((h) => h >= 9 && h <= 12),
      `every round: ${full}`,
    )

    const [c, d] = [await server(), await server()]
    try {
      // Two targets, one per 50 ms round: each every 100 ms.
      const turn = new CheckLoop([target('c', c.port), target('d', d.port)], 50, 500, 100)
      turn.start()
      await sleep(520)
      turn.stop()
      const half = [c.hits(), d.hits()]
      assert.ok(
        half.every((h) => h >= 4 && h <= 7),
        `in turn: ${half}`,
      )
      assert.ok(turn.state.get('c')!.lastOk && turn.state.get('d')!.lastOk, 'both answered')
    } finally {
      c.close()
      d.close()
    }
  } finally {
    a.close()
    b.close()
  }
})

test('eachWithinMs shorter than the round: every target every round', async () => {
  const a = await server()
  try {
    const l = new CheckLoop([target('a', a.port), target('b', a.port)], 50, 500, 20)
    l.start()
    await sleep(270)
    l.stop()
    assert.ok(a.hits() >= 9, `${a.hits()} probes of two targets in 5 rounds`)
  } finally {
    a.close()
  }
})

test.run()
