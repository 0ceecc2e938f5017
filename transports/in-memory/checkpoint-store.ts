import type { CheckpointStore } from '../transport.js';

/** A CheckpointStore kept in a Map: for tests and the in-memory transport. `saves` records every save, in order. */
export interface InMemoryCheckpointStore extends CheckpointStore {
  readonly saves: readonly { readonly name: string; readonly position: string }[];
  snapshot(): ReadonlyMap<string, string>;
}

export function createInMemoryCheckpointStore(initial: Record<string, string> = {}): InMemoryCheckpointStore {
  const positions = new Map<string, string>(Object.entries(initial));
  const saves: { name: string; position: string }[] = [];
  return {
    saves,
    load: (name) => Promise.resolve(positions.get(name)),
    save: (name, position) => {
      positions.set(name, position);
      saves.push({ name, position });
      return Promise.resolve();
    },
    snapshot: () => new Map(positions),
  };
}
