/**
 * Follows a small file's contents (credentials, a tracking plan) while the gateway runs.
 */
import fs from 'node:fs';

/**
 * Reads `file` every `intervalMillis` and calls `onChange` with the new contents when they differ
 * from the last read (`initial` at first), or with the read error, once, until the file can be read
 * again. Contents are compared, not `fs.watchFile`'s status: its first look is taken after the
 * call returns, so a change made right after start would be missed; reads follow symbolic links,
 * so a Kubernetes Secret volume's swap of its `..data` link is seen. Returns a function that stops it.
 */
export function watchContents(file: string, initial: Buffer, onChange: (contents: Buffer | NodeJS.ErrnoException) => void, intervalMillis: number): () => void {
  let last = initial;
  let failed = false;
  const check = (): void => {
    let now: Buffer;
    try {
      now = fs.readFileSync(file);
    } catch (err) {
      if (!failed) onChange(err as NodeJS.ErrnoException);
      failed = true;
      return;
    }
    failed = false;
    if (now.equals(last)) return;
    last = now;
    onChange(now);
  };
  const timer = setInterval(check, intervalMillis);
  timer.unref();
  return () => clearInterval(timer);
}
