import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from './logger.js';

const setFlagsFromString = vi.fn<(flags: string) => void>();
vi.mock('node:v8', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:v8')>()), setFlagsFromString }));

const logger = createLogger({ level: 'silent' });

/** A fresh copy of the module each time: the tier is the process's, kept in the module. */
async function freshPglite() {
  vi.resetModules();
  return import('./pglite.js');
}

beforeEach(() => {
  setFlagsFromString.mockClear();
});

afterEach(() => {
  vi.resetModules();
});

describe("PGlite's compiler tier (PGLITE_OPTIMIZE)", () => {
  it("runs the embedded database on V8's baseline compiler unless asked otherwise, set once before the first database", async () => {
    const { openPglite, pgliteTier } = await freshPglite();
    expect(pgliteTier()).toBe('baseline');
    const db = await openPglite(undefined, { logger });
    const second = await openPglite(undefined, { logger });
    expect(setFlagsFromString.mock.calls).toEqual([['--liftoff-only']]);
    expect((await second.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await Promise.all([db.close(), second.close()]);
  });

  it('leaves V8 its optimizing tier with PGLITE_OPTIMIZE=true', async () => {
    const { choosePgliteTier, openPglite, pgliteTier } = await freshPglite();
    choosePgliteTier(true);
    const db = await openPglite(undefined, { logger });
    expect(pgliteTier()).toBe('optimizing');
    expect(setFlagsFromString).not.toHaveBeenCalled();
    await db.close();
  });

  it('refuses to change the tier once a database runs, and accepts the same choice again', async () => {
    const { choosePgliteTier, openPglite } = await freshPglite();
    choosePgliteTier(false);
    const db = await openPglite(undefined, { logger });
    expect(() => { choosePgliteTier(false); }).not.toThrow();
    expect(() => { choosePgliteTier(true); }).toThrow(/before the first embedded database opens; this process runs the baseline tier already/);
    await db.close();
  });
});
