// ssh.jump and lab.bastions in the inventory: the schema's lines and the rules it cannot say,
// each located at its JSON path; the validate playbook exits 2 on them, and a bastion's keyFile
// is checked on load like a node's.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { InputError } from '../../lib/errors.ts'
import { inventoryProblems } from '../../lib/inventory/validate.ts'
import { loadCheckedInventory } from '../../lib/inventory/ssh-files.ts'
import { playbook } from '../helpers/playbook.ts'
import { ed25519Pair } from '../helpers/ed25519.ts'

const lab = JSON.parse(readFileSync(fileURLToPath(new URL('../../inventory/lab.json', import.meta.url)), 'utf8'))
const HOP = { name: 'bastion', address: '198.51.100.4' }

function problems(fn: (j: any) => void): string[] {
  const j = structuredClone(lab)
  fn(j)
  return inventoryProblems(j).map((p) => `${p.path}: ${p.message}`)
}
const has = (lines: string[], at: string, fragment: string) =>
  assert.ok(
    lines.some((l) => l.startsWith(`${at}: `) && l.includes(fragment)),
    `no "${at}: …${fragment}…" in:\n${lines.join('\n')}`,
  )

test('valid: a hop at every level, by address, DNS name or IPv6; [] on a node; a lab bastion', () => {
  assert.equal(
    problems((j) => {
      j.defaults.ssh.jump = [HOP]
      j.pairs[0].ssh = {
        jump: [
          { address: 'gw.example.net', port: 2222, user: 'jump', keyFile: 'keys/jump' },
          { address: '2001:db8::4', name: 'inner' },
        ],
      }
      j.pairs[0].nodes[1].ssh = { jump: [] }
      j.lab.bastions = [HOP]
    }),
    [],
  )
})

test('schema: a bad hop is located at its own path', () => {
  const lines = problems((j) => {
    j.defaults.ssh.jump = [{ address: 'not a host!' }, { name: 'Bastion', address: '198.51.100.4', port: 0 }, { address: '198.51.100.5', proxy: 'x' }, {}]
  })
  has(lines, 'defaults/ssh/jump/0/address', 'must match format "ipv4" or "ipv6" or "hostname"')
  has(lines, 'defaults/ssh/jump/1/name', 'must match pattern')
  has(lines, 'defaults/ssh/jump/1/port', 'must be >= 1')
  has(lines, 'defaults/ssh/jump/2/proxy', 'unknown property "proxy"')
  has(lines, 'defaults/ssh/jump/3', 'missing required property "address"')
  has(
    problems((j) => {
      j.pairs[0].nodes[0].ssh = { jump: HOP }
    }),
    'pairs/0/nodes/0/ssh/jump',
    'must be array',
  )
})

test('rules: a chain that visits a bastion twice, ends at the node itself, or names two bastions alike', () => {
  has(
    problems((j) => {
      j.defaults.ssh.jump = [HOP, { address: '198.51.100.4' }]
    }),
    'defaults/ssh/jump/1/address',
    'is already hop 0 of this chain',
  )
  assert.equal(
    problems((j) => {
      j.defaults.ssh.jump = [HOP, { address: '198.51.100.4', port: 2222 }]
    }),
    [],
    'another port is another hop',
  )
  has(
    problems((j) => {
      j.pairs[0].ssh = { jump: [{ address: '198.51.100.12' }] }
    }),
    'pairs/0/ssh/jump/0/address',
    'is node node-b itself',
  )
  assert.equal(
    problems((j) => {
      j.pairs[0].ssh = { jump: [{ address: '198.51.100.12' }] }
      j.pairs[0].nodes[1].ssh = { jump: [] }
    }),
    [],
    'node-b itself goes direct',
  )
  has(
    problems((j) => {
      j.defaults.ssh.jump = [{ name: 'node-a', address: '198.51.100.4' }]
    }),
    'defaults/ssh/jump/0/name',
    "is a node's name",
  )
  has(
    problems((j) => {
      j.defaults.ssh.jump = [HOP]
      j.pairs[0].nodes[0].ssh = { jump: [{ name: 'bastion', address: '198.51.100.5' }] }
    }),
    'pairs/0/nodes/0/ssh/jump/0/name',
    'already names the bastion 198.51.100.4 (defaults/ssh/jump/0)',
  )
})

test('lab bastions: inside the subnet, an address and a name of their own', () => {
  has(
    problems((j) => {
      j.lab.bastions = [{ name: 'bastion', address: '10.0.0.4' }]
    }),
    'lab/bastions/0/address',
    'is not inside the lab subnet',
  )
  has(
    problems((j) => {
      j.lab.bastions = [{ name: 'bastion', address: '198.51.100.1' }]
    }),
    'lab/bastions/0/address',
    "the lab controller's address",
  )
  has(
    problems((j) => {
      j.lab.bastions = [{ name: 'bastion', address: '198.51.100.11' }]
    }),
    'lab/bastions/0/address',
    'already used by pairs/0/nodes/0/address',
  )
  has(
    problems((j) => {
      j.lab.bastions = [{ name: 'bastion', address: '198.51.100.20' }]
    }),
    'lab/bastions/0/address',
    'already used by pairs/0/floatingIps/0/address',
  )
  has(
    problems((j) => {
      j.lab.bastions = [{ name: 'controller', address: '198.51.100.4' }]
    }),
    'lab/bastions/0/name',
    "the controller's name",
  )
  has(
    problems((j) => {
      j.lab.bastions = [HOP, { name: 'bastion', address: '198.51.100.5' }]
    }),
    'lab/bastions/1/name',
    'duplicate bastion name',
  )
  has(
    problems((j) => {
      j.lab.bastions = [HOP, { name: 'b2', address: '198.51.100.4' }]
    }),
    'lab/bastions/1/address',
    'already used by lab/bastions/0/address',
  )
})

test('validate exits 2 naming the path; a hop keyFile that is a public key is refused on load, at its path', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hapair-jump-inv-'))
  try {
    const bad = structuredClone(lab)
    bad.defaults.ssh.jump = [{ address: '198.51.100.4', port: 70000 }]
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify(bad))
    const r = await playbook('validate', ['--inventory', path.join(dir, 'bad.json')])
    assert.is(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stdout + r.stderr, 'defaults/ssh/jump/0/port: must be <= 65535')

    const pub = structuredClone(lab)
    writeFileSync(path.join(dir, 'jump.pub'), ed25519Pair().publicKeyOpenssh)
    pub.defaults.ssh.jump = [{ ...HOP, keyFile: 'jump.pub' }]
    writeFileSync(path.join(dir, 'pub.json'), JSON.stringify(pub))
    try {
      loadCheckedInventory(path.join(dir, 'pub.json'))
      assert.unreachable('a public key as a hop keyFile loaded')
    } catch (e) {
      assert.instance(e, InputError)
      assert.match((e as Error).message, `defaults/ssh/jump/0/keyFile: ${path.join(dir, 'jump.pub')} is a public key`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
