// What every playbook shares: argument parsing, inventory loading, exit codes, no stack traces for user errors.
// zx re-exports minimist, but importing zx's bundle costs ~100 ms at every playbook start.
import minimist from 'minimist'
import { EXIT, HapairError, InputError } from './errors.ts'
import { loadInventory, DEFAULT_INVENTORY, type LoadedInventory } from './inventory/load.ts'

export interface ArgSpec { string?: string[]; boolean?: string[]; alias?: Record<string, string>; default?: Record<string, unknown> }
export type Args = minimist.ParsedArgs & { '--'?: string[] }

/** The script's own arguments, whether run as `npx zx playbooks/x.ts` or `tsx playbooks/x.ts`. */
export function scriptArgv(argv = process.argv): string[] {
  const i = argv.findIndex((a, k) => k >= 1 && /\.(ts|mjs|js)$/.test(a) && !/node_modules/.test(a))
  return argv.slice(i >= 0 ? i + 1 : 2)
}

/** Parses flags; an unknown flag is a usage error (exit 2), not silently ignored. */
export function parseArgs(spec: ArgSpec, argv = scriptArgv()): Args {
  const known = new Set([...(spec.string ?? []), ...(spec.boolean ?? []), ...Object.keys(spec.alias ?? {}), ...Object.values(spec.alias ?? {}), 'help'])
  const unknown: string[] = []
  const args = minimist(argv, {
    string: spec.string, boolean: [...(spec.boolean ?? []), 'help'], alias: spec.alias, default: spec.default, '--': true,
    unknown: (a) => { if (a.startsWith('-')) unknown.push(a); return true },
  }) as Args
  if (unknown.length) throw new InputError(`unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.join(' ')} (known: ${[...known].map((k) => (k.length > 1 ? '--' : '-') + k).join(' ')})`)
  return args
}

/** Loads and validates the inventory named by --inventory (or $HAPAIR_INVENTORY, or the lab's). */
export function inventoryFrom(args: Args): LoadedInventory {
  const file = (args.inventory as string | undefined) || process.env.HAPAIR_INVENTORY || DEFAULT_INVENTORY
  return loadInventory(file)
}

/** Runs a playbook's main: user errors print one readable block and set the documented exit code. */
export async function runPlaybook(main: () => Promise<number | void>, usage?: string): Promise<void> {
  try {
    if (usage && scriptArgv().some((a) => a === '--help' || a === '-h')) {
      console.log(usage)
      process.exitCode = EXIT.ok
      return
    }
    const code = await main()
    process.exitCode = code ?? EXIT.ok
  } catch (e) {
    if (e instanceof HapairError) {
      console.error(e.message)
      if (e instanceof InputError && usage && /unknown option|usage/.test(e.message)) console.error(usage)
      process.exitCode = e.exitCode
    } else {
      console.error(`internal error (a bug in hapair, please report it): ${(e as Error)?.stack ?? e}`)
      process.exitCode = EXIT.failed
    }
  }
}
