import koffi from 'koffi';

/**
 * librdkafka's mock cluster inside this process, through its C API (`rd_kafka_mock_*` in
 * librdkafka.so.1, which Debian's kcat brings), so a test can inject what a real cluster does under
 * stress: request errors such as NOT_LEADER_FOR_PARTITION on the next N requests of one kind, and a
 * broker that goes down and comes back. koffi calls the library without a native build.
 */
export interface MockClusterFaults {
  /** `bootstrap.servers`, comma-separated. */
  readonly brokers: string;
  /** The next `errors.length` requests of `apiKey` fail with these Kafka error codes, in order. */
  pushRequestErrors(apiKey: number, errors: readonly number[]): void;
  brokerDown(brokerId: number): void;
  brokerUp(brokerId: number): void;
  close(): void;
}

/** Kafka API keys and error codes the fault tests use. */
export const apiKeys = { produce: 0, offsetCommit: 8 } as const;
export const errorCodes = { notLeaderForPartition: 6, requestTimedOut: 7, rebalanceInProgress: 27 } as const;

/** Why the in-process mock cannot run here, or `undefined` when it can. */
export function mockClusterUnavailable(): string | undefined {
  try {
    koffi.load('librdkafka.so.1');
    return undefined;
  } catch (err) {
    return `librdkafka.so.1 cannot be loaded (apt-get install -y kcat brings it): ${err instanceof Error ? err.message : String(err)}`;
  }
}

export function startMockClusterWithFaults(brokerCount = 3): MockClusterFaults {
  const lib = koffi.load('librdkafka.so.1');
  const confNew = lib.func('void *rd_kafka_conf_new()');
  const confSet = lib.func('int rd_kafka_conf_set(void *conf, const char *name, const char *value, _Out_ uint8_t *errstr, size_t size)');
  const kafkaNew = lib.func('void *rd_kafka_new(int type, void *conf, _Out_ uint8_t *errstr, size_t size)');
  const destroy = lib.func('void rd_kafka_destroy(void *rk)');
  const mockCluster = lib.func('void *rd_kafka_handle_mock_cluster(void *rk)');
  const bootstraps = lib.func('const char *rd_kafka_mock_cluster_bootstraps(void *mcluster)');
  const pushErrors = lib.func('int rd_kafka_mock_push_request_errors_array(void *mcluster, int16_t apiKey, size_t cnt, const int32_t *errors)');
  const setDown = lib.func('int rd_kafka_mock_broker_set_down(void *mcluster, int32_t brokerId)');
  const setUp = lib.func('int rd_kafka_mock_broker_set_up(void *mcluster, int32_t brokerId)');

  const errstr = Buffer.alloc(512);
  const conf: unknown = confNew();
  for (const [name, value] of [['test.mock.num.brokers', String(brokerCount)], ['log_level', '3']]) {
    if (confSet(conf, name, value, errstr, errstr.length) !== 0) throw new Error(`rd_kafka_conf_set ${name}: ${errstr.toString('utf8').replace(/\0.*$/s, '')}`);
  }
  // A producer handle that produces nothing: it only owns the mock cluster.
  const rk: unknown = kafkaNew(0, conf, errstr, errstr.length);
  if (rk === null) throw new Error(`rd_kafka_new: ${errstr.toString('utf8').replace(/\0.*$/s, '')}`);
  const cluster: unknown = mockCluster(rk);
  const servers: unknown = bootstraps(cluster);
  if (typeof servers !== 'string') throw new Error('the mock cluster named no bootstrap servers');
  const check = (what: string, code: unknown): void => {
    if (code !== 0) throw new Error(`${what} failed with librdkafka error ${String(code)}`);
  };
  let closed = false;
  return {
    brokers: servers,
    pushRequestErrors(apiKey, errors) {
      check('rd_kafka_mock_push_request_errors_array', pushErrors(cluster, apiKey, errors.length, Int32Array.from(errors)));
    },
    brokerDown(brokerId) {
      check('rd_kafka_mock_broker_set_down', setDown(cluster, brokerId));
    },
    brokerUp(brokerId) {
      check('rd_kafka_mock_broker_set_up', setUp(cluster, brokerId));
    },
    close() {
      if (closed) return;
      closed = true;
      destroy(rk);
    },
  };
}
