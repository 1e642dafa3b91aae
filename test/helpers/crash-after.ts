// Preloaded (node --import) into a playbook the crash tests start with HAPAIR_CRASH_AFTER_STEP set:
// SIGKILLs the process right after the named step, to prove that a re-run recovers. It lives here,
// not in lib/, so production code reads no test switch. Loaded by uvu as a test file, it does nothing.
import { afterStepHooks } from '../../lib/failover/run.ts'

const at = process.env.HAPAIR_CRASH_AFTER_STEP
if (at)
  afterStepHooks.push((step) => {
    if (step === at) process.kill(process.pid, 'SIGKILL')
  })
