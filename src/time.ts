/** Timing and promise helpers shared by the drivers and mechanisms. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `p`, or `fallback` after `ms`, without a timer left behind to hold the process open. */
export function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A promise whose work starts only when someone awaits it. */
export function lazyPromise<T>(start: () => Promise<T>): Promise<T> {
  let p: Promise<T> | undefined;
  const get = () => (p ??= start());
  return {
    then: (ok, fail) => get().then(ok, fail),
    catch: (fail) => get().catch(fail),
    finally: (f) => get().finally(f),
    [Symbol.toStringTag]: 'Promise',
  } as Promise<T>;
}
