import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { waitForAction, type ActionView } from '../../lib/cloud/actions.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'

const instant = () => {
  const sleeps: number[] = []
  return {
    sleeps,
    clock: {
      now: () => 0,
      sleep: async (ms: number) => {
        sleeps.push(ms)
      },
    },
  }
}
/** An action that answers the given states, one per poll. */
const script = (states: ActionView['state'][]) => {
  let i = 0
  return async (id: string): Promise<ActionView> => ({ id, state: states[Math.min(i++, states.length - 1)], error: 'action_failed: boom' })
}

test('polls until success, with growing intervals', async () => {
  const { sleeps, clock } = instant()
  const a = await waitForAction({ id: '1', state: 'running' }, script(['running', 'running', 'success']), {
    provider: 'hcloud',
    what: 'assign',
    clock,
    intervalMs: 100,
    maxIntervalMs: 200,
  })
  assert.is(a.state, 'success')
  assert.is(sleeps.join(), '100,150,200')
})

test('an action that is already finished is not polled', async () => {
  const { sleeps, clock } = instant()
  await waitForAction(
    { id: '1', state: 'success' },
    () => {
      throw new Error('polled')
    },
    { provider: 'hcloud', what: 'assign', clock },
  )
  assert.is(sleeps.length, 0)
})

test('error: fails with the provider reason and actionFailed', async () => {
  const { clock } = instant()
  try {
    await waitForAction({ id: '9', state: 'running' }, script(['error']), { provider: 'hcloud', what: 'assign floating IP 42 to server 7', clock })
    assert.unreachable()
  } catch (e) {
    assert.instance(e, CloudApiError)
    assert.ok((e as CloudApiError).actionFailed)
    assert.match((e as Error).message, /assign floating IP 42 to server 7: action 9 failed: action_failed: boom/)
  }
})

test('never finishing: bounded by the time slept, even with an instant clock', async () => {
  const { sleeps, clock } = instant()
  try {
    await waitForAction({ id: '5', state: 'running' }, script(['running']), {
      provider: 'digitalocean',
      what: 'power_off droplet 3',
      clock,
      intervalMs: 1000,
      maxIntervalMs: 1000,
      timeoutMs: 5000,
    })
    assert.unreachable()
  } catch (e) {
    assert.ok((e as CloudApiError).timedOut)
    assert.match((e as Error).message, /still running after 5 s/)
    assert.is(sleeps.length, 5)
  }
})

test.run()
