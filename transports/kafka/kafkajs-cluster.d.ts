/**
 * The part of KafkaJS's internal Cluster that the test harness for librdkafka's mock cluster
 * (kafka-mock.fixture.ts) replaces. KafkaJS does not export it; its package has no "exports" map, so
 * the module is reachable by path.
 */
declare module 'kafkajs/src/cluster/index.js' {
  export interface ClusterInternals {
    readonly brokerPool: {
      readonly metadata?: { readonly controllerId?: number | null; readonly brokers?: readonly { readonly nodeId: number }[] };
    };
    findBroker: (this: ClusterInternals, query: { nodeId: number }) => Promise<unknown>;
    findControllerBroker: (this: ClusterInternals) => Promise<unknown>;
  }
  const Cluster: { prototype: ClusterInternals };
  export default Cluster;
}
