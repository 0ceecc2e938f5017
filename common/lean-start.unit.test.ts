import { describe, expect, it, vi } from 'vitest';

const setFlagsFromString = vi.fn<(flags: string) => void>();
vi.mock('node:v8', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:v8')>()), setFlagsFromString }));

describe("a service's lean start", () => {
  it('holds the young generation and favours size while the service starts, and gives V8 back its own sizing once it is ready', async () => {
    const { leanStartDone } = await import('./lean-start.js');
    expect(setFlagsFromString.mock.calls).toEqual([['--semi-space-growth-factor=1'], ['--optimize-for-size']]);

    setFlagsFromString.mockClear();
    leanStartDone();
    // Size over speed left on halved the consumer's rate: the start's flags must both be undone.
    expect(setFlagsFromString.mock.calls).toEqual([['--semi-space-growth-factor=2'], ['--no-optimize-for-size']]);

    // The publisher on an embedded outbox keeps the young generation small, and still gets speed back.
    setFlagsFromString.mockClear();
    leanStartDone({ youngGeneration: 'small' });
    expect(setFlagsFromString.mock.calls).toEqual([['--no-optimize-for-size']]);

    // A service with an embedded store also holds its old generation to its live set.
    setFlagsFromString.mockClear();
    leanStartDone({ youngGeneration: 'small', oldGeneration: 'tight' });
    expect(setFlagsFromString.mock.calls).toEqual([['--heap-growing-percent=30'], ['--no-optimize-for-size']]);
  });
});
