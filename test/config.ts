import { createEnvReader } from '../common/config/env-reader.js';
import { ConfigError } from '../common/errors.js';
import { z } from 'zod';

/** The seed every property-based test starts from unless PROPERTY_SEED says another (a fixed default keeps CI repeatable). */
export const defaultPropertySeed = 20_261_206;

/**
 * The test suites' own settings, read once like every service's (`*.config.ts`): PROPERTY_SEED, the
 * seed that replays a property test's run (a failure prints it), and KAFKA_BROKERS, a disposable
 * Kafka cluster for the Kafka suites (without it they run against kcat's mock cluster).
 */
export function loadTestConfig(env: Readonly<Record<string, string | undefined>> = process.env): { readonly propertySeed: number; readonly kafkaBrokers: string | undefined } {
  const reader = createEnvReader(env);
  const propertySeed = reader.read('PROPERTY_SEED', z.coerce.number().int(), defaultPropertySeed, 'an integer: the seed of the property-based tests');
  const kafkaBrokers = reader.value('KAFKA_BROKERS');
  if (reader.issues.length > 0) throw new ConfigError(reader.issues);
  return { propertySeed, kafkaBrokers };
}
