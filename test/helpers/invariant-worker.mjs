// The invariant sampler's loop (see invariant.ts), on its own thread so a test that blocks its
// event loop (spawnSync, a long await chain) cannot open gaps in the sampling. Plain JavaScript
// started without tsx: it only reads /proc and the lab's pid files. uvu loads every file under
// test/ as a test file, so on the main thread this module does nothing.
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'

/** Thread CPU time in ms (utime + stime of /proc/thread-self/stat, clock ticks of 10 ms). */
function threadCpuMs() {
  try {
    const s = readFileSync('/proc/thread-self/stat', 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10
  } catch {
    return NaN
  }
}

const buf = Buffer.alloc(1 << 16)
/** pread from 0 (a /proc seq file starts over); '' on any error. */
function preadAll(fd) {
  try {
    return buf.latin1Slice(0, readSync(fd, buf, 0, buf.length, 0))
  } catch {
    return ''
  }
}
/** Small files by open/read/close; existsSync first, as a throw per sample costs more than the read. */
function readSmall(file) {
  if (!existsSync(file)) return ''
  let fd
  try {
    fd = openSync(file, 'r')
    return preadAll(fd)
  } catch {
    return ''
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
const readPid = (file) => {
  const n = Number(readSmall(file).trim())
  return Number.isInteger(n) && n > 0 ? n : undefined
}

function sample(cfg) {
  const t0 = performance.now()
  const cpu0 = threadCpuMs()
  const nsIds = new Map()
  /** "net:[inode]" of the node's namespace file as of this sample; undefined while the lab is down. */
  const nsId = (n) => nsIds.get(n.name)
  /** Once per sample: a lab rebuilt under us (`up` on a running lab) has new namespaces. */
  const refreshNs = (n) => {
    const st = statSync(n.nsFile, { throwIfNoEntry: false })
    const id = st ? `net:[${st.ino}]` : undefined
    if (id === nsIds.get(n.name)) return
    nsIds.set(n.name, id)
    const fd = tries.get(n.name)
    if (fd !== undefined) {
      closeSync(fd)
      tries.delete(n.name)
    }
  }
  const inNs = (pid, n) => {
    try {
      return nsId(n) !== undefined && readlinkSync(`/proc/${pid}/ns/net`) === nsId(n)
    } catch {
      return false
    }
  }

  // One fd per node on its namespace's fib_trie, opened through the holder once: the fd holds
  // the namespace itself (a power cut and the holder's death do not blind it), and each sample
  // is one pread. Nothing of ours joins the namespace, so pause cannot freeze the sampler and
  // kill/down do not count or reap it. Closed at stop, so the namespace is never pinned longer.
  const tries = new Map()
  function trieFd(n) {
    let fd = tries.get(n.name)
    if (fd !== undefined) return fd
    if (!nsId(n)) return undefined
    const pid = readPid(n.holderPidFile)
    if (!pid || !inNs(pid, n)) return undefined
    try {
      fd = openSync(`/proc/${pid}/net/fib_trie`, 'r')
    } catch {
      return undefined
    }
    // The pid may have died between the check and the open: only a fd of the right namespace counts.
    if (!inNs(pid, n)) {
      closeSync(fd)
      return undefined
    }
    tries.set(n.name, fd)
    return fd
  }
  const closeAll = () => {
    for (const fd of tries.values()) closeSync(fd)
    tries.clear()
  }

  /** Floating addresses the node's kernel answers for: "|-- A" followed by "/32 host LOCAL" in its fib_trie. */
  function heldFloating(n) {
    const fd = trieFd(n)
    if (fd === undefined) return []
    const trie = preadAll(fd)
    return cfg.floating.filter((a) => {
      const at = trie.indexOf(`|-- ${a}\n`)
      if (at < 0) return false
      // The leaf's prefix lines run until the next node of the trie ("|--" or "+--").
      const end = trie.indexOf('--', at + a.length + 5)
      return trie.slice(at, end < 0 ? undefined : end).includes('/32 host LOCAL')
    })
  }

  /** The lab's server for `svc` runs on the node: a stopped (SIGSTOP) one counts, a zombie does not. */
  function running(n, s) {
    const pid = readPid(s.pidFile)
    if (!pid || !inNs(pid, n)) return false
    const argv = readSmall(`/proc/${pid}/cmdline`).split('\0')
    const i = argv.indexOf('/var/lib/lab/bin/server.mjs')
    return i >= 0 && argv[i + 1] === s.name
  }

  let samples = 0
  let maxGapMs = 0
  let maxSampleMs = 0
  let busyMs = 0
  let last
  const open = new Map()
  const violations = []
  const tick = () => {
    const now = performance.now()
    if (last !== undefined) maxGapMs = Math.max(maxGapMs, now - last)
    last = now
    samples++
    const atMs = Math.round(now - t0)
    const seen = new Set()
    cfg.nodes.forEach(refreshNs)
    const held = cfg.nodes.map(heldFloating)
    for (const a of cfg.floating) {
      const holders = cfg.nodes.filter((_, i) => held[i].includes(a)).map((n) => n.name)
      if (holders.length > 1) seen.add(`floating IP ${a} held by ${holders.join(', ')}`)
    }
    for (const pair of [...new Set(cfg.nodes.map((n) => n.pair))]) {
      const nodes = cfg.nodes.filter((n) => n.pair === pair)
      for (const name of [...new Set(nodes.flatMap((n) => n.singletons.map((s) => s.name)))]) {
        const on = nodes.filter((n) => n.singletons.some((s) => s.name === name && running(n, s))).map((n) => n.name)
        if (on.length > 1) seen.add(`singleton ${name} of pair ${pair} running on ${on.join(', ')}`)
      }
    }
    for (const what of seen) {
      const v = open.get(what)
      if (v) v.samples++
      else {
        const nv = { atMs, what, samples: 1 }
        open.set(what, nv)
        violations.push(nv)
      }
    }
    for (const [what, v] of open)
      if (!seen.has(what)) {
        v.untilMs = atMs
        open.delete(what)
      }
    const took = performance.now() - now
    busyMs += took
    maxSampleMs = Math.max(maxSampleMs, took)
  }
  tick()
  const timer = setInterval(tick, cfg.intervalMs)
  parentPort.postMessage({ ready: true })
  parentPort.on('message', (m) => {
    if (m !== 'stop') return
    clearInterval(timer)
    tick()
    closeAll()
    parentPort.postMessage({
      report: {
        samples,
        violations,
        maxGapMs: Math.round(maxGapMs * 10) / 10,
        maxSampleMs: Math.round(maxSampleMs * 100) / 100,
        meanSampleMs: Math.round((busyMs / samples) * 1000) / 1000,
        durationMs: Math.round(performance.now() - t0),
        cpuMs: threadCpuMs() - cpu0,
      },
    })
    parentPort.close()
  })
}

// Last: the helpers above must exist before the first sample.
if (!isMainThread && workerData?.invariant) sample(workerData.invariant)
