// What every playbook shares: argument parsing, inventory loading, exit codes, no stack traces for user errors.
import { EXIT, HapairError, InputError } from './errors.ts'
import { DEFAULT_INVENTORY, requireAddresses, type LoadedInventory } from './inventory/load.ts'
import { loadCheckedInventory } from './inventory/ssh-files.ts'
import { errnoText } from './inventory/read-file.ts'
import { setHintInventory } from './hint.ts'
import { COMPILED_PLAYBOOK, asInvoked } from './invocation.ts'
import type { ArgsOf, PlaybookDef } from './cli/define.ts'
import { parseCommandLine } from './cli/parse.ts'

/** The script's own arguments, whether run as `npx zx playbooks/x.ts`, `tsx playbooks/x.ts` or `hapair x` (installed: dist/ under node_modules). */
export function scriptArgv(argv = process.argv): string[] {
  const i = argv.findIndex((a, k) => k >= 1 && /\.(ts|mjs|js)$/.test(a) && (!/node_modules/.test(a) || COMPILED_PLAYBOOK.test(a)))
  return argv.slice(i >= 0 ? i + 1 : 2)
}

/** The playbook's arguments read by its definition (lib/options/): a usage error is exit 2, naming the option. */
export function parseArgs<D extends PlaybookDef>(def: D, argv = scriptArgv()): ArgsOf<D> {
  return parseCommandLine(def, argv)
}

/** --help or -h among the options (not among the words after "--", which are another command's). */
function asksHelp(argv: string[]): boolean {
  const end = argv.indexOf('--')
  return (end >= 0 ? argv.slice(0, end) : argv).some((a) => a === '--help' || a === '-h')
}

/**
 * Loads and validates the inventory named by --inventory (or $HAPAIR_INVENTORY, or the lab's).
 * A node without an address (a provisioned pair before import-stack) is refused, exit 2, unless
 * the playbook works without addresses (validate, import-stack: addressesPending).
 */
export function inventoryFrom(args: { inventory?: string }, opts: { addressesPending?: boolean } = {}): LoadedInventory {
  const passed = args.inventory || process.env.HAPAIR_INVENTORY
  const inv = loadCheckedInventory(passed || DEFAULT_INVENTORY)
  setHintInventory(passed)
  return opts.addressesPending ? inv : requireAddresses(inv, passed || DEFAULT_INVENTORY)
}

/** How long a finished playbook may linger (a handle someone forgot) before it exits anyway. */
const EXIT_GRACE_MS = 300
const guarded = new WeakSet<NodeJS.WriteStream>()

/**
 * A reader that went away (`failover … | head -1`) or a full disk under a redirect never
 * interrupts an operation: the failed stream is left behind (node ignores SIGPIPE and reports
 * EPIPE as a stream error, which would otherwise be thrown in the middle of a step).
 */
export function guardOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    if (guarded.has(s)) continue
    guarded.add(s)
    s.on('error', () => {
      /* nobody is listening any more: keep working, stop writing */
    })
  }
}

/** Resolves once what was written reached the OS (or the stream is gone), at most after `ms`. */
function drained(s: NodeJS.WriteStream, ms = 1000): Promise<void> {
  if (s.destroyed || !s.writableLength) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    const done = () => {
      clearTimeout(t)
      resolve()
    }
    s.once('drain', done).once('close', done).once('error', done)
  })
}

/** The result is printed: exit now, whatever socket or timer is still open, so cron runs never pile up. */
async function exitSoon(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)])
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
}

const isFsRefusal = (e: unknown): e is NodeJS.ErrnoException & { path: string; syscall: string } =>
  e instanceof Error &&
  typeof (e as NodeJS.ErrnoException).code === 'string' &&
  typeof (e as NodeJS.ErrnoException).path === 'string' &&
  typeof (e as NodeJS.ErrnoException).syscall === 'string'

/** Runs a playbook's main: user errors print one readable block and set the documented exit code. */
export async function runPlaybook(main: () => Promise<number | void>, usage?: string): Promise<void> {
  guardOutput()
  try {
    if (usage && asksHelp(scriptArgv())) {
      console.log(asInvoked(usage))
      process.exitCode = EXIT.ok
      return
    }
    const code = await main()
    process.exitCode = code ?? EXIT.ok
  } catch (e) {
    if (e instanceof HapairError) {
      console.error(asInvoked(e.message))
      if (e instanceof InputError && usage && /unknown option|usage/.test(e.message)) console.error(asInvoked(usage))
      process.exitCode = e.exitCode
    } else if (isFsRefusal(e)) {
      // The OS refused a file the user named (directly, or through the inventory or environment): not a bug.
      console.error(`${e.path}: cannot ${e.syscall}: ${errnoText(e)}`)
      process.exitCode = EXIT.badInput
    } else {
      console.error(`internal error (a bug in hapair, please report it): ${(e as Error)?.stack ?? e}`)
      process.exitCode = EXIT.failed
    }
  }
  await exitSoon()
}
