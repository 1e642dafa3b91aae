// How a playbook was started, so the commands hapair prints can be typed as they are: the
// installed package runs compiled playbooks (bin/hapair.mjs -> dist/playbooks/NAME.js, the
// user types `hapair NAME`); a checkout runs the sources (`npx zx playbooks/NAME.ts`).

/** A compiled playbook's path, wherever the package is installed (node_modules, a global prefix). */
export const COMPILED_PLAYBOOK = /[\\/]dist[\\/]playbooks[\\/][\w-]+\.js$/

export const isCompiled = (script: string | undefined = process.argv[1]): boolean => COMPILED_PLAYBOOK.test(script ?? '')

/** The command that runs playbook NAME the way this one was run. */
export function playbookInvocation(name: string, script: string | undefined = process.argv[1]): string {
  return isCompiled(script) ? `hapair ${name}` : `npx zx playbooks/${name}.ts`
}

/** Text written for a checkout (usage, hints) as the installed command spells it, when compiled. */
export function asInvoked(text: string, script: string | undefined = process.argv[1]): string {
  return isCompiled(script) ? text.replace(/npx zx playbooks\/([\w-]+)\.ts/g, 'hapair $1') : text
}
