// A copy of an example inventory in a temporary directory, with the files it names
// (SSH public key, token file), so the stacks and the importer can read them.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadInventory, type LoadedInventory } from '../../lib/inventory/load.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
export const PUBKEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHapairExampleKeyForTestsOnly0000000000000000 admin@example'

export interface Fixture {
  dir: string
  file: string
  inv: LoadedInventory
  /** Writes an edited copy beside the original and returns its path (not validated). */
  write(fn: (d: any) => void): string
  /** The edited copy, loaded (and so validated). */
  edit(fn: (d: any) => void): LoadedInventory
}

export function exampleCopy(name: 'example-hcloud.json' | 'example-digitalocean.json'): Fixture {
  const dir = mkdtempSync(path.join(tmpdir(), 'hapair-stack-'))
  mkdirSync(path.join(dir, 'keys'))
  mkdirSync(path.join(dir, 'secrets'))
  writeFileSync(path.join(dir, 'keys/admin_ed25519.pub'), PUBKEY + '\n')
  writeFileSync(path.join(dir, 'secrets/hcloud.token'), 'token-from-file-for-tests\n', { mode: 0o600 })
  const file = path.join(dir, name)
  cpSync(path.join(root, 'inventory', name), file)
  return {
    dir,
    file,
    inv: loadInventory(file),
    write(fn) {
      const d = JSON.parse(readFileSync(file, 'utf8'))
      fn(d)
      const f = path.join(dir, `edited-${Math.random().toString(36).slice(2)}.json`)
      writeFileSync(f, JSON.stringify(d, null, 2))
      return f
    },
    edit(fn) {
      return loadInventory(this.write(fn))
    },
  }
}
