// Hako's errors: one class, a closed set of stable codes, and a cause chain.
// Codes are mapped once to CLI exit codes (cli/exit-codes.ts) and once to
// ttrpc statuses (ttrpc/status.ts). Expected outcomes, such as a container
// exiting non-zero, are values, never errors.

export const ERROR_CODES = [
  'INVALID_ARGUMENT', // bad flags or values given by the user
  'CONFIG_INVALID', // the TOML configuration is wrong
  'BUNDLE_INVALID', // config.json missing or malformed
  'ROOTFS_NOT_FOUND', // the container's root filesystem does not exist
  'NOT_FOUND', // a sandbox, container or process does not exist
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION', // the object is in the wrong state for the request
  'HOST_NOT_READY', // a host requirement (QEMU, virtiofsd, image) is missing
  'IMAGE_BUILD_FAILED',
  'VM_START_FAILED',
  'TEMPLATE_INVALID', // a saved VM template cannot be loaded (damaged, or saved by another QEMU)
  'VM_EXITED', // the VM went away while in use
  'AGENT_TIMEOUT', // the guest agent did not answer in time
  'AGENT_PROTOCOL', // the guest sent something invalid (the guest is untrusted)
  'AGENT_ERROR', // the guest agent refused or failed a request
  'EXECUTABLE_NOT_FOUND', // the container's command does not exist (exit 127)
  'EXECUTABLE_PERMISSION', // the container's command cannot be run (exit 126)
  'UNAVAILABLE', // a connection is closed
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class HakoError extends Error {
  override readonly name = 'HakoError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isHakoError(e: unknown, code?: ErrorCode): e is HakoError {
  return e instanceof HakoError && (code === undefined || e.code === code);
}

/** The message of any thrown value, for wrapping into a HakoError. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
