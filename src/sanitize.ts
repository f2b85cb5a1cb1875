// Text that came from the guest (agent messages, its console, what it made
// QEMU or virtiofsd print) is untrusted: before it reaches a terminal or a
// log it is stripped of control characters (escape sequences could rewrite
// the user's screen) and bounded.

const MAX_GUEST_TEXT = 2000;

/** A message: every control character but tab and newline becomes "?". */
export function sanitizeGuestText(text: string, max = MAX_GUEST_TEXT): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Several lines: each sanitized, the line breaks kept. */
export function sanitizeGuestLines(text: string, maxLine = MAX_GUEST_TEXT): string {
  return text
    .split('\n')
    .map((l) => sanitizeGuestText(l, maxLine))
    .join('\n');
}
