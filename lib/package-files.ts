// Files that ship with hapair itself (the lab's HTTP server, the guard's systemd unit template),
// by their path in the repository. Found from this module's own URL, never the caller's cwd:
// the directory above it that holds hapair's package.json is the checkout (this file in lib/) or
// the installed package (this code bundled into a chunk under dist/). A `new URL('../x',
// import.meta.url)` elsewhere would break once bundled: the bundle moves the code, not the file.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

let root: string | undefined

export function packageRoot(): string {
  if (root) return root
  const start = path.dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'hapair') return (root = dir)
    } catch {
      /* no package.json here, or not JSON: keep going up */
    }
    if (path.dirname(dir) === dir) throw new Error(`hapair's package.json not found above ${start}`)
  }
}

/** The absolute path of a file of the package, given as in the repository (`examples/systemd/x.service`). */
export const packageFile = (rel: string): string => path.join(packageRoot(), rel)
