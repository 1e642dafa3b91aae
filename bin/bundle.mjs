// Runs a playbook from dist/hapair.cjs, the one compiled bundle of every playbook (scripts/build.mjs),
// with a V8 code cache. Node 20 compiles every module it loads on every start (its compile cache
// came in node 22), and for `hapair status` that was most of the CPU before the first packet to a
// node: reading, parsing and compiling about 1.9 MB of JavaScript (ssh2, yaml, hapair). A script
// run with node:vm can hand V8 the bytecode of an earlier run instead.
//
// The cache is written once per playbook, build and node version, at the end of the first run
// that got through its work (exit 0 or 1: a usage error or a refusal reaches too little of the
// code to be worth keeping), into $HAPAIR_CACHE_DIR, else $XDG_CACHE_HOME/hapair, else
// ~/.cache/hapair. Its name carries the bundle's content hash (dist/build-id): V8 checks a cache
// only against the source's length and its own flags, so a rebuilt bundle of the same length
// must not find the old bytecode. A cache V8 rejects (another node, other flags) is compiled
// around and written again. A directory that cannot be written costs nothing but the speed-up.
// HAPAIR_CODE_CACHE=off runs without one (the build does, for the --help runs it makes).
//
// The cache is code: V8 runs its bytecode as if compiled from the bundle. So a cache is read, or
// written, only where nobody else could have put it: a directory and a file owned by this user
// and writable by nobody else (HAPAIR_CACHE_DIR pointed at a shared /tmp directory is no cache).
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import vm from 'node:vm'

const DIST = fileURLToPath(new URL('../dist/', import.meta.url))
export const BUNDLE = path.join(DIST, 'hapair.cjs')

function cacheDir() {
  if (process.env.HAPAIR_CACHE_DIR) return process.env.HAPAIR_CACHE_DIR
  const base = process.env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), '.cache') : undefined)
  return base ? path.join(base, 'hapair') : undefined
}

/** The cache file for one playbook of this build on this node, or undefined without a place for it. */
export function cacheFile(playbook) {
  if (process.env.HAPAIR_CODE_CACHE === 'off') return undefined
  const dir = cacheDir()
  if (!dir) return undefined
  let id
  try {
    id = readFileSync(path.join(DIST, 'build-id'), 'utf8').trim()
  } catch {
    return undefined
  }
  return path.join(dir, `${playbook}-${id}-${process.version}-${process.arch}.v8cache`)
}

const uid = typeof process.getuid === 'function' ? process.getuid() : undefined
/** Owned by this user, writable by it alone. */
const own = (st) => uid !== undefined && st.uid === uid && (st.mode & 0o022) === 0

/** The directory holds only what this user put there (or does not exist yet). */
export function trustedDir(dir) {
  try {
    const st = statSync(dir)
    return st.isDirectory() && own(st)
  } catch (e) {
    return e.code === 'ENOENT'
  }
}

/** The cache's bytes, or undefined when there is none or it is not this user's alone. */
export function readCache(file) {
  if (!file || !trustedDir(path.dirname(file))) return undefined
  let fd
  try {
    fd = openSync(file, 'r')
    // Checked on the open file, so what is checked is what is read.
    const st = fstatSync(fd)
    if (!st.isFile() || !own(st)) return undefined
    return readFileSync(fd)
  } catch {
    return undefined /* no cache yet */
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Runs dist/hapair.cjs's playbook `name` in this process, as `node dist/playbooks/NAME.js` would
 * (process.argv is the caller's to set). Resolves when the playbook's module has run; the
 * playbook itself ends the process.
 */
export async function runBundled(name) {
  const file = cacheFile(name)
  const cachedData = readCache(file)
  // The build keeps the bundle ASCII (esbuild's default charset), so latin1 reads it as it is,
  // without UTF-8 decoding 1.9 MB.
  const source = readFileSync(BUNDLE, 'latin1')
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const script = new vm.Script(wrapper, { filename: BUNDLE, cachedData })
  if (file && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', (code) => {
      if (code !== 0 && code !== 1) return
      try {
        mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
        if (!trustedDir(path.dirname(file))) return
        // Another run may write the same file: each writes its own and renames over, whole.
        const tmp = `${file}.${process.pid}.tmp`
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 })
        renameSync(tmp, file)
      } catch {
        /* not writable: the next run compiles again */
      }
    })
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, DIST)
  const load = module.exports.playbooks?.[name]
  if (typeof load !== 'function') throw new Error(`${BUNDLE} has no playbook ${name}: rebuild with npm run build`)
  await load()
}
