// Reading and changing one item's version policy in the inventory file itself (N9: "readable
// and settable from the command line"). The edit touches only that value: comments, order and
// indentation stay as the author left them; the result is validated before it replaces the file.
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import YAML from 'yaml'
import { InputError } from '../errors.ts'
import { findPair, isYamlFile, loadInventory, parseInventory, readInventoryText, type LoadedInventory } from '../inventory/load.ts'
import { errnoText } from '../inventory/read-file.ts'
import { jsonSet, yamlSetScalar } from '../inventory/text-edit.ts'
import { POLICIES, type Policy } from './types.ts'

export interface PolicyAt {
  pair: string
  item: string
  policy: Policy
  explicit: boolean
  path: (string | number)[]
}

export function policyAt(inv: LoadedInventory, pairName: string, itemName: string): PolicyAt {
  const [pair] = findPair(inv, pairName)
  const pi = inv.data.pairs.indexOf(pair)
  const items = pair.sync?.items ?? []
  const ii = items.findIndex((i) => i.name === itemName)
  if (ii < 0) throw new InputError(`${inv.file}: pair ${pair.name} has no sync item "${itemName}" (items: ${items.map((i) => i.name).join(', ') || 'none'})`)
  const explicit = items[ii].policy !== undefined
  return { pair: pair.name, item: itemName, policy: items[ii].policy ?? 'equal', explicit, path: ['pairs', pi, 'sync', 'items', ii, 'policy'] }
}

export function parsePolicy(word: string | undefined): Policy {
  if (!word || !(POLICIES as readonly string[]).includes(word)) {
    throw new InputError(`policy must be one of ${POLICIES.join(', ')} (got ${word === undefined ? 'nothing' : JSON.stringify(word)})`)
  }
  return word as Policy
}

/** The file's text with one value changed, every other byte as it was. Pure. */
export function editText(text: string, file: string, at: (string | number)[], value: string): string {
  if (isYamlFile(file)) {
    const edited = yamlSetScalar(text, at, value)
    if (edited !== undefined) return edited
    // No mapping to add the key to (the item is written some unusual way): the Document API
    // keeps comments, though it may respace flow collections.
    const doc = YAML.parseDocument(text)
    doc.setIn(at, value)
    return doc.toString()
  }
  return jsonSet(text, at, value)
}

/** Runs one file-system call; a refusal (immutable file, read-only or full disk…) is one line naming the path, exit 2. */
function fsStep<T>(what: string, file: string, fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (e instanceof InputError || !(e as NodeJS.ErrnoException)?.code) throw e
    throw new InputError(`${file}: cannot ${what}: ${errnoText(e)}; the inventory was not changed`)
  }
}

/** Replaces the file in one rename: a reader sees the old inventory or the new one, never half. */
function writeAtomically(file: string, text: string, expectBefore: string): void {
  const real = fsStep('resolve the inventory', file, () => realpathSync(file))
  const mode = fsStep("read the inventory's mode", real, () => statSync(real).mode & 0o7777)
  const tmp = path.join(path.dirname(real), `.${path.basename(real)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = fsStep('create a temporary file beside it', tmp, () => openSync(tmp, 'wx', mode))
  try {
    fsStep('write the temporary file', tmp, () => {
      writeSync(fd, text)
      fsyncSync(fd)
    })
  } catch (e) {
    try {
      closeSync(fd)
      unlinkSync(tmp)
    } catch {
      /* already gone */
    }
    throw e
  }
  closeSync(fd)
  try {
    // Someone else saved the file since we read it: do not throw their change away.
    if (readInventoryText(real) !== expectBefore) throw new InputError(`${file} changed while the policy was being set; nothing written, run it again`)
    fsStep('replace the inventory', real, () => renameSync(tmp, real))
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {
      /* already gone */
    }
    throw e
  }
}

export interface SetResult extends PolicyAt {
  before: Policy
  changed: boolean
}

export function setPolicy(file: string, pairName: string, itemName: string, word: string | undefined): SetResult {
  const policy = parsePolicy(word)
  const inv = loadInventory(file)
  const at = policyAt(inv, pairName, itemName)
  if (at.explicit && at.policy === policy) return { ...at, before: at.policy, changed: false }
  const text = readInventoryText(file)
  const next = editText(text, file, at.path, policy)
  const check = policyAt(parseInventory(next, file), pairName, itemName) // throws InputError listing every problem
  if (check.policy !== policy) throw new InputError(`${file}: the edit did not take (policy reads ${check.policy}); nothing written`)
  writeAtomically(file, next, text)
  return { ...check, before: at.policy, changed: true }
}
