// Waiting with a bound: resolves with `p`'s value, or undefined once `ms`
// have passed (the timer does not keep the process alive, and is cleared
// as soon as `p` settles, instead of lingering until it fires).
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms).unref();
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

/** How long output may keep flowing after a container's process exited. */
export const OUTPUT_GRACE_MS = 5000;
