/**
 * `promise`, or a rejection after `ms`. A value that arrives too late goes to `onLate` (to release it).
 * `what` may be a function, asked only when time runs out, so the error can say how far things got.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string | (() => string), onLate?: (value: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Error(`${typeof what === 'string' ? what : what()} took longer than ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (late) onLate?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Resolves `true` once `promise` settles, or `false` after `ms` if it has not by then (it keeps running). */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    const settled = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}
