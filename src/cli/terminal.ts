/** The command line's own terminal: raw mode while attached, window size and its changes. */
import type { ConsoleSize } from '../driver.js';

/**
 * Put `stdin` in raw mode if it is a terminal (keys, Ctrl-C included, go to the container as they
 * are typed). The returned function restores it; it also runs at exit, whatever the way out.
 */
export function rawMode(stdin: NodeJS.ReadStream): () => void {
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    try {
      stdin.setRawMode(false);
    } catch {
      /* the terminal is gone */
    }
  };
  process.on('exit', restore);
  return restore;
}

/** The window size of `stdout` if it is a terminal. */
export function windowSize(stdout: NodeJS.WriteStream): ConsoleSize | undefined {
  return stdout.isTTY ? { rows: stdout.rows, cols: stdout.columns } : undefined;
}

/** Call `onResize` on every change of the terminal's size (SIGWINCH); returns the function that stops it. */
export function watchResize(stdout: NodeJS.WriteStream, onResize: (rows: number, cols: number) => void): () => void {
  if (!stdout.isTTY) return () => {};
  const changed = () => onResize(stdout.rows, stdout.columns);
  stdout.on('resize', changed);
  return () => stdout.off('resize', changed);
}
