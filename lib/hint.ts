// The commands printed after a failure, for a person to copy at 3 a.m. They name the inventory
// this run used whenever it was not the default: a copied hint without it would act on
// inventory/lab.json, the demo lab, not on the pair that failed. One place builds them all.
import path from 'node:path'
import { playbookInvocation } from './invocation.ts'
import { shq } from './shell.ts'

let inventory: string | undefined

/**
 * The inventory that was passed (--inventory or $HAPAIR_INVENTORY), absolute so the hint works
 * from any directory; undefined: the default, which a hint need not name.
 */
export function setHintInventory(file: string | undefined): void {
  inventory = file ? path.resolve(file) : undefined
}

/** `npx zx playbooks/NAME.ts ARGS… [--inventory FILE]` (installed: `hapair NAME …`): flags as written, every value quoted for a POSIX shell. */
export function playbookCommand(name: string, args: (string | number)[] = []): string {
  const all = [...args, ...(inventory ? ['--inventory', inventory] : [])]
  return [playbookInvocation(name), ...all.map((a) => (/^--[a-z][a-z-]*$/.test(String(a)) ? String(a) : shq(a)))].join(' ')
}
