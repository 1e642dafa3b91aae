// One API token source per provider: every pair of a provider names the same tokenFile (or none),
// and the stack's provider takes that file, read as the drivers read it, else the environment.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import * as pulumi from '@pulumi/pulumi'
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc.js'
import { declared, setConfig, value } from './mocks.ts'
import { exampleCopy } from './fixture.ts'
import { hcloudStack } from '../../stacks/hcloud/program.ts'
import { digitaloceanStack } from '../../stacks/digitalocean/program.ts'
import { stackInput } from '../../stacks/shared/stack.ts'
import { InputError } from '../../lib/errors.ts'

const problems = (fn: () => unknown) => {
  try {
    fn()
    return []
  } catch (e) {
    if (!(e instanceof InputError)) throw e
    return e.problems
  }
}

test('pairs of one provider with different token sources are refused, at the second one', () => {
  const fx = exampleCopy('example-hcloud.json')
  const file = problems(() =>
    fx.edit((d) => {
      d.pairs[1].provision.tokenFile = 'secrets/hcloud.token'
    }),
  )
  assert.ok(
    file.some((p) =>
      p.endsWith(
        'pairs/1/provision/tokenFile: "secrets/hcloud.token" differs from pairs/0/provision/tokenFile (none (HCLOUD_TOKEN)): the hcloud stack has one API token, so every hcloud pair names the same tokenFile, or none (then HCLOUD_TOKEN)',
      ),
    ),
    file.join('\n'),
  )
  const two = problems(() =>
    fx.edit((d) => {
      d.pairs[0].provision.tokenFile = 'a.token'
      d.pairs[1].provision.tokenFile = 'b.token'
    }),
  )
  assert.ok(
    two.some((p) => p.includes('pairs/1/provision/tokenFile: "b.token" differs from pairs/0/provision/tokenFile ("a.token")')),
    two.join('\n'),
  )
  assert.equal(
    problems(() =>
      fx.edit((d) => {
        for (const p of d.pairs) p.provision.tokenFile = 'secrets/hcloud.token'
      }),
    ),
    [],
  )
  // Another provider's pair may have its own.
  assert.equal(
    problems(() =>
      fx.edit((d) => {
        d.pairs[1].provision = { ...d.pairs[1].provision, provider: 'digitalocean', location: 'fra1', tokenFile: 'secrets/do.token' }
      }),
    ),
    [],
  )
})

for (const [provider, project, example] of [
  ['hcloud', 'ha-hcloud', 'example-hcloud.json'],
  ['digitalocean', 'ha-digitalocean', 'example-digitalocean.json'],
] as const) {
  test(`${provider}: with provision.tokenFile the stack's provider takes the token from it (a secret); every resource uses that provider`, async () => {
    const fx = exampleCopy(example)
    writeFileSync(path.join(fx.dir, 'secrets/api.token'), 'tok-from-file-0123456789\n', { mode: 0o600 })
    setConfig(
      `${project}:inventory`,
      fx.write((d) => {
        for (const p of d.pairs) p.provision.tokenFile = 'secrets/api.token'
      }),
    )
    const { plans, token } = stackInput(project, provider)
    assert.ok(token)
    assert.ok(await pulumi.isSecret(token!))
    assert.is(await value(token!), 'tok-from-file-0123456789')
    const before = declared.length
    const stack = provider === 'hcloud' ? hcloudStack(plans, undefined, token) : digitaloceanStack(plans, undefined, token)
    await value(stack.pairs as pulumi.Output<unknown>)
    const mine = declared.slice(before)
    const providers = mine.filter((d) => d.type === `pulumi:providers:${provider}`)
    assert.is(providers.length, 1)
    // It reaches the engine as a secret, so the state keeps it encrypted.
    assert.equal(providers[0].inputs.token, { [specialSigKey]: specialSecretSig, value: 'tok-from-file-0123456789' })
    const ours = mine.filter((d) => d.custom && d.type.startsWith(`${provider}:`))
    assert.ok(ours.length > 4)
    for (const d of ours) assert.match(d.provider ?? '', new RegExp(`pulumi:providers:${provider}::${provider}-token-file::`), `${d.type} ${d.name}`)
  })

  test(`${provider}: without a tokenFile no provider is declared: Pulumi's default provider reads the environment variable`, async () => {
    const fx = exampleCopy(example)
    setConfig(`${project}:inventory`, fx.file)
    const { plans, token } = stackInput(project, provider)
    assert.is(token, undefined)
    const before = declared.length
    const stack = provider === 'hcloud' ? hcloudStack(plans, undefined, token) : digitaloceanStack(plans, undefined, token)
    await value(stack.pairs as pulumi.Output<unknown>)
    assert.equal(
      declared
        .slice(before)
        .filter((d) => d.type.startsWith('pulumi:providers:'))
        .map((d) => d.name),
      [],
    )
  })
}

test('a tokenFile that is not there fails the stack before any resource, naming the file, not a token', () => {
  const fx = exampleCopy('example-hcloud.json')
  setConfig(
    'ha-hcloud:inventory',
    fx.write((d) => {
      for (const p of d.pairs) p.provision.tokenFile = 'secrets/missing.token'
    }),
  )
  const before = declared.length
  try {
    stackInput('ha-hcloud', 'hcloud')
    assert.unreachable()
  } catch (e) {
    assert.is((e as Error).constructor.name, 'RunError')
    assert.match((e as Error).message, /the hcloud stack: tokenFile .*secrets\/missing\.token: no such file/)
  }
  assert.is(declared.length, before)
})

test.run()
