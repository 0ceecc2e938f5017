import type { Logger } from '../common/logger.js';
import type { Leadership } from './capture/leadership.js';
import type { OutboxRelay } from './relay.js';

export interface LeaderRelayOptions {
  /** Created but not started: this starts and stops it. */
  readonly relay: OutboxRelay;
  /** Not started yet: `start` starts it, `stop` closes it. */
  readonly leadership: Leadership;
  readonly logger: Logger;
}

export interface LeaderRelay {
  /** Starts campaigning; the relay runs while this instance leads. Calling it twice does nothing. */
  start(): void;
  /**
   * Stops the relay (its batch in flight finishes), then closes the leadership, so on a graceful
   * shutdown the next leader starts only after this one has stopped publishing. Idempotent.
   */
  stop(): Promise<void>;
  /** What the leadership last said: `leader` from `onElected` until `onDeposed`. */
  role(): 'leader' | 'standby';
}

/**
 * Runs the relay only on the instance that holds the leadership (several publishers on one outbox
 * that is read in commit order). Transitions run one after another: a deposition waits for the
 * relay's batch in flight before an election can start it again, because `OutboxRelay.start` does
 * nothing while its previous loop is still winding down.
 */
export function followLeadership(options: LeaderRelayOptions): LeaderRelay {
  const { relay, leadership } = options;
  const logger = options.logger.child({ component: 'leaderRelay' });
  let role: 'leader' | 'standby' = 'standby';
  let started = false;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let transitions: Promise<void> = Promise.resolve();

  function enqueue(transition: () => Promise<void> | void): void {
    transitions = transitions.then(transition).catch((err: unknown) => {
      logger.error({ err }, 'leadership transition failed');
    });
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      leadership.start({
        onElected() {
          role = 'leader';
          enqueue(() => {
            if (stopped) return;
            logger.info('elected: starting the outbox relay');
            relay.start();
          });
        },
        onDeposed(reason) {
          role = 'standby';
          enqueue(async () => {
            logger.info({ reason }, 'deposed: stopping the outbox relay after its batch in flight');
            await relay.stop();
          });
        },
      });
    },

    stop() {
      stopping ??= (async () => {
        stopped = true;
        enqueue(() => relay.stop());
        await transitions;
        await leadership.close();
        await transitions;
        await relay.stop();
      })();
      return stopping;
    },

    role() {
      return role;
    },
  };
}
