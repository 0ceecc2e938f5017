import type { OutboxRelay } from '../relay.js';
import type { Leadership, LeadershipEvents } from './leadership.js';

/**
 * Leadership the test hands out and takes away. With `relay`, it records the relay's state at the
 * moment it was closed (to check the relay stopped before the lock was let go).
 */
export function fakeLeadership(relay?: () => OutboxRelay) {
  let events: LeadershipEvents | undefined;
  let leader = false;
  let closed = false;
  let relayStateAtClose: string | undefined;
  let starts = 0;
  const leadership: Leadership = {
    start(listeners) {
      starts += 1;
      events ??= listeners;
    },
    isLeader: () => leader,
    close() {
      if (!closed) {
        closed = true;
        relayStateAtClose = relay?.().stats().state;
        if (leader) {
          leader = false;
          events?.onDeposed('closed');
        }
      }
      return Promise.resolve();
    },
  };
  return {
    leadership,
    elect() {
      leader = true;
      events?.onElected();
    },
    depose(reason = 'connection lost') {
      leader = false;
      events?.onDeposed(reason);
    },
    closed: () => closed,
    relayStateAtClose: () => relayStateAtClose,
    starts: () => starts,
  };
}
