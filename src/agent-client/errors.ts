// Turns what the guest agent sent back into Hako errors. The guest is
// untrusted: its messages are truncated and stripped of control characters
// before they reach a terminal or a log.
import { fromBinary } from '@bufbuild/protobuf';
import { HakoError, type ErrorCode } from '../errors.js';
import { ErrorDetailSchema } from '../gen/agent_pb.js';
import { Code, TtrpcError } from '../ttrpc/status.js';
import { UndecodableReplyError } from '../ttrpc/typed.js';
import { sanitizeGuestText } from '../sanitize.js';

export { sanitizeGuestText };

const REASONS: Readonly<Record<string, ErrorCode>> = {
  executable_not_found: 'EXECUTABLE_NOT_FOUND',
  executable_permission: 'EXECUTABLE_PERMISSION',
  not_found: 'NOT_FOUND',
  already_exists: 'ALREADY_EXISTS',
  failed_precondition: 'FAILED_PRECONDITION',
  invalid_argument: 'INVALID_ARGUMENT',
};

const STATUS_CODES: Readonly<Partial<Record<number, ErrorCode>>> = {
  [Code.NOT_FOUND]: 'NOT_FOUND',
  [Code.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [Code.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [Code.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [Code.DEADLINE_EXCEEDED]: 'AGENT_TIMEOUT',
  [Code.UNAVAILABLE]: 'UNAVAILABLE',
  [Code.RESOURCE_EXHAUSTED]: 'AGENT_PROTOCOL',
  [Code.DATA_LOSS]: 'AGENT_PROTOCOL',
};

function reasonOf(e: TtrpcError): string | undefined {
  for (const d of e.details) {
    if (!d.typeUrl.endsWith('/hako.agent.v1.ErrorDetail')) continue;
    try {
      return fromBinary(ErrorDetailSchema, d.value).reason;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Wraps an error from an agent call as a HakoError naming the call. */
export function agentError(method: string, e: unknown): HakoError {
  if (e instanceof HakoError) return e;
  if (e instanceof UndecodableReplyError) {
    return new HakoError('AGENT_PROTOCOL', `agent ${method}: ${e.message}`, { cause: e });
  }
  if (e instanceof TtrpcError) {
    const reason = reasonOf(e);
    const code =
      (reason !== undefined ? REASONS[reason] : undefined) ?? STATUS_CODES[e.code] ?? 'AGENT_ERROR';
    return new HakoError(code, `agent ${method}: ${sanitizeGuestText(e.message)}`, { cause: e });
  }
  return new HakoError('INTERNAL', `agent ${method}: ${String(e)}`, { cause: e });
}
