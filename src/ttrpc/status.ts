// ttrpc statuses (gRPC numbering) and the error that carries one.
import { HakoError, type ErrorCode } from '../errors.js';

export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export interface StatusDetail {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/** A non-OK status received from, or to be sent to, a ttrpc peer. */
export class TtrpcError extends Error {
  override readonly name = 'TtrpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly details: readonly StatusDetail[] = [],
  ) {
    super(message);
  }
}

const HAKO_TO_STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: Code.INVALID_ARGUMENT,
  CONFIG_INVALID: Code.INVALID_ARGUMENT,
  BUNDLE_INVALID: Code.INVALID_ARGUMENT,
  ROOTFS_NOT_FOUND: Code.NOT_FOUND,
  NOT_FOUND: Code.NOT_FOUND,
  ALREADY_EXISTS: Code.ALREADY_EXISTS,
  FAILED_PRECONDITION: Code.FAILED_PRECONDITION,
  EXECUTABLE_NOT_FOUND: Code.NOT_FOUND,
  EXECUTABLE_PERMISSION: Code.PERMISSION_DENIED,
  AGENT_TIMEOUT: Code.DEADLINE_EXCEEDED,
  UNAVAILABLE: Code.UNAVAILABLE,
  VM_EXITED: Code.UNAVAILABLE,
};

/** Maps any thrown value to the status a ttrpc server sends. */
export function toStatus(e: unknown): { code: number; message: string } {
  if (e instanceof TtrpcError) return { code: e.code, message: e.message };
  if (e instanceof HakoError) return { code: HAKO_TO_STATUS[e.code] ?? Code.UNKNOWN, message: e.message };
  return { code: Code.UNKNOWN, message: e instanceof Error ? e.message : String(e) };
}
