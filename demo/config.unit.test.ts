import { describe, expect, it } from 'vitest';
import { loadDemoConfig } from './config.js';

describe('the demo transport', () => {
  it('is the X emulator unless asked otherwise', () => {
    expect(loadDemoConfig({}, []).transport).toEqual({ kind: 'x' });
  });

  it('--transport redis-streams uses REDIS_URL (default the local Redis) and the demo\'s own stream and group', () => {
    const config = loadDemoConfig({}, ['--transport', 'redis-streams']);
    expect(config.transport).toMatchObject({
      kind: 'redis-streams',
      publisher: { url: 'redis://127.0.0.1:6379', stream: 'tweetbus:demo' },
      consumer: { stream: 'tweetbus:demo', group: 'demo-consumer', deadLetterStream: 'tweetbus:demo:dead' },
    });
    expect(loadDemoConfig({ REDIS_URL: 'redis://cache:6380' }, ['--transport=redis-streams']).transport).toMatchObject({ publisher: { url: 'redis://cache:6380' } });
  });

  it('TRANSPORT in the environment works the same, and the flag wins over it', () => {
    expect(loadDemoConfig({ TRANSPORT: 'redis-streams' }, []).transport.kind).toBe('redis-streams');
    expect(loadDemoConfig({ TRANSPORT: 'redis-streams' }, ['--transport', 'x']).transport.kind).toBe('x');
  });

  it('--transport kafka needs KAFKA_BROKERS, and says so once', () => {
    let message = '';
    try {
      loadDemoConfig({}, ['--transport', 'kafka']);
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/KAFKA_BROKERS is required/);
    expect(message.match(/KAFKA_BROKERS/g)).toHaveLength(1);
    expect(loadDemoConfig({ KAFKA_BROKERS: 'localhost:9092' }, ['--transport', 'kafka']).transport).toMatchObject({
      kind: 'kafka',
      publisher: { topic: 'tweetbus.demo', connection: { brokers: ['localhost:9092'] } },
      consumer: { groupId: 'demo-consumer', deadLetterTopic: 'tweetbus.demo.dlq' },
    });
  });

  it("the original demo's PUBLISH_TO_KAFKA_YN=Y and KAFKA_SERVER choose Kafka", () => {
    expect(loadDemoConfig({ PUBLISH_TO_KAFKA_YN: 'Y', KAFKA_SERVER: 'broker' }, []).transport).toMatchObject({
      kind: 'kafka',
      publisher: { connection: { brokers: ['broker:9092'] } },
    });
  });

  it('names --transport when the value is not a transport', () => {
    expect(() => loadDemoConfig({}, ['--transport', 'pigeon'])).toThrow(/TRANSPORT \(or --transport\) should hold one of x, kafka, redis-streams/);
  });
});

describe('the demo stuck bounds', () => {
  it('reads CONSUMER_STUCK_AFTER_MS and RELAY_STUCK_AFTER_MS apart, a minute each by default', () => {
    expect(loadDemoConfig({}, []).stuckAfterMs).toEqual({ consumer: 60_000, relay: 60_000 });
    expect(loadDemoConfig({ CONSUMER_STUCK_AFTER_MS: '5000', RELAY_STUCK_AFTER_MS: '7000' }, []).stuckAfterMs).toEqual({ consumer: 5_000, relay: 7_000 });
    expect(() => loadDemoConfig({ RELAY_STUCK_AFTER_MS: 'later' }, [])).toThrow(/RELAY_STUCK_AFTER_MS should hold milliseconds/);
  });
});

describe('the demo trust policy', () => {
  it('is open unless --trust or TRUST says otherwise, where the allow-list needs X, and names a wrong value', () => {
    expect(loadDemoConfig({}, []).trust).toBe('open');
    expect(loadDemoConfig({}, ['--trust', 'authors']).trust).toBe('authors');
    expect(loadDemoConfig({ TRUST: 'authors' }, []).trust).toBe('authors');
    expect(loadDemoConfig({}, ['--trust', 'signed,authors']).trust).toBe('signed,authors');
    expect(loadDemoConfig({ TRANSPORT: 'redis-streams', REDIS_URL: 'redis://127.0.0.1:6379' }, ['--trust', 'signed']).trust).toBe('signed');
    expect(() => loadDemoConfig({}, ['--trust', 'everyone'])).toThrow(/TRUST \(or --trust\) should be one of open, authors, signed, signed,authors, not "everyone"/);
    expect(() => loadDemoConfig({}, ['--trust', 'authors', '--transport', 'redis-streams'])).toThrow(/needs the demo over X/);
    expect(() => loadDemoConfig({}, ['--trust', 'signed,authors', '--transport', 'redis-streams'])).toThrow(/TRUST=signed,authors \(--trust signed,authors\) trusts X accounts/);
  });
});
