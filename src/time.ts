/** Timing helpers shared by the drivers and mechanisms. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `p`, or `fallback` after `ms`, without a timer left behind to hold the process open. */
export function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
