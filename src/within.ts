// Waiting with a bound: resolves with `p`'s value, or undefined once `ms`
// have passed (the timer does not keep the process alive).
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/** How long output may keep flowing after a container's process exited. */
export const OUTPUT_GRACE_MS = 5000;
