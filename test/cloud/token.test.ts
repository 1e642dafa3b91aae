import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { redact, resolveToken, tokenProblem } from '../../lib/cloud/token.ts'
import { InputError } from '../../lib/errors.ts'

const SECRET = 'tok-0123456789-SECRET'
const dir = mkdtempSync(path.join(tmpdir(), 'hapair-token-'))
mkdirSync(path.join(dir, 'secrets'))
writeFileSync(path.join(dir, 'secrets/hcloud'), SECRET + '\n')
writeFileSync(path.join(dir, 'secrets/empty'), '\n')
writeFileSync(path.join(dir, 'secrets/two-lines'), `${SECRET}\nsecond-${SECRET}\n`)
const src = (tokenFile?: string) => ({ envVars: ['HCLOUD_TOKEN'], tokenFile, dir, what: 'floating IP 203.0.113.10' })

const cases: { name: string; tokenFile?: string; env: Record<string, string>; want?: string; error?: RegExp }[] = [
  { name: 'environment variable', env: { HCLOUD_TOKEN: SECRET }, want: SECRET },
  { name: 'tokenFile relative to the inventory directory, trimmed', tokenFile: 'secrets/hcloud', env: {}, want: SECRET },
  { name: 'tokenFile wins over the environment', tokenFile: 'secrets/hcloud', env: { HCLOUD_TOKEN: 'other-token' }, want: SECRET },
  { name: 'neither: says both ways', env: {}, error: /set HCLOUD_TOKEN or name a tokenFile/ },
  { name: 'missing file: names the resolved path', tokenFile: 'secrets/nope', env: {}, error: new RegExp(`${dir}/secrets/nope: no such file`) },
  { name: 'empty file', tokenFile: 'secrets/empty', env: {}, error: /is empty/ },
  { name: 'two lines: refused without quoting either', tokenFile: 'secrets/two-lines', env: {}, error: /whitespace or control characters/ },
]

for (const c of cases) {
  test(`token: ${c.name}`, () => {
    if (c.want) {
      assert.is(tokenProblem(src(c.tokenFile), c.env), undefined)
      assert.is(resolveToken(src(c.tokenFile), c.env), c.want)
      return
    }
    try {
      resolveToken(src(c.tokenFile), c.env)
      assert.unreachable('should have thrown')
    } catch (e) {
      assert.instance(e, InputError)
      assert.match((e as Error).message, c.error!)
      assert.match((e as Error).message, /floating IP 203\.0\.113\.10/)
      assert.not.ok((e as Error).message.includes(SECRET), 'token in message')
    }
  })
}

test('redact removes the secret and any bearer credential', () => {
  assert.is(redact(`a ${SECRET} b ${SECRET}`, [SECRET]), 'a [REDACTED] b [REDACTED]')
  assert.is(redact('Authorization: Bearer abc.def-123', []), 'Authorization: Bearer [REDACTED]')
  assert.is(redact('nothing here', [SECRET]), 'nothing here')
})

test.run()
