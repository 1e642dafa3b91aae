// The schema's string patterns and what each means in words. validate.ts prints the words instead of
// the regular expression; it imports this file, not schema.ts, so playbooks need not load TypeBox.

/** No C0 control character and no DEL: a newline in a path splits a remote command or a state line. */
export const ABS_PATH = '^/[^\\u0000-\\u001f\\u007f]*$'
export const FILE_NAME = '^[^\\u0000-\\u001f\\u007f]+$'

/** Node's timers hold a signed 32-bit count of milliseconds; above it they fire at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1

export const PATTERN_MEANING: Record<string, string> = {
  [ABS_PATH]: 'must be an absolute path (starting with /) without control characters',
  [FILE_NAME]: 'must be a file name without control characters',
}
