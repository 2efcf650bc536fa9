/**
 * The node's Prometheus metrics: produce and fetch counts, bytes and latency histograms, and
 * per-partition log end offsets, segment counts and damage read at scrape time, plus Node's
 * process metrics. One registry per node, so tests can run several nodes in one process.
 */
import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'
import type {Broker} from '../broker/broker.js'
import {storageFullErrorCount} from '../log/storage-errors.js'
import {segmentHandlesOpen} from '../log/segment-handles.js'

// Latency buckets in seconds, from sub-millisecond appends to multi-second long polls.
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class Metrics {
  readonly registry = new Registry()
  readonly produceRecords = new Counter({name: 'lignum_produce_records_total', help: 'Records appended', labelNames: ['topic'], registers: [this.registry]})
  readonly produceBytes = new Counter({name: 'lignum_produce_bytes_total', help: 'Record batch bytes appended', labelNames: ['topic'], registers: [this.registry]})
  readonly produceRequests = new Counter({name: 'lignum_produce_requests_total', help: 'Produce requests by outcome', labelNames: ['outcome'], registers: [this.registry]})
  readonly produceLatency = new Histogram({name: 'lignum_produce_latency_seconds', help: 'Produce request latency', buckets: LATENCY_BUCKETS_SECONDS, registers: [this.registry]})
  readonly fetchBytes = new Counter({name: 'lignum_fetch_bytes_total', help: 'Record batch bytes served', labelNames: ['topic'], registers: [this.registry]})
  readonly fetchRequests = new Counter({name: 'lignum_fetch_requests_total', help: 'Fetch requests by outcome', labelNames: ['outcome'], registers: [this.registry]})
  readonly fetchLatency = new Histogram({name: 'lignum_fetch_latency_seconds', help: 'Fetch request latency, long-poll wait included', buckets: LATENCY_BUCKETS_SECONDS, registers: [this.registry]})

  constructor(broker: Broker) {
    collectDefaultMetrics({register: this.registry, prefix: 'lignum_'})
    const segments = new Gauge({name: 'lignum_log_segments', help: 'Segments of each partition', labelNames: ['topic', 'partition'], registers: [this.registry], collect: () => collect()})
    const sizeBytes = new Gauge({name: 'lignum_log_size_bytes', help: 'Bytes on disk of each partition', labelNames: ['topic', 'partition'], registers: [this.registry]})
    const damaged = new Gauge({name: 'lignum_partition_damaged', help: '1 for each partition offline because its files are damaged (repair: lignum segments repair)', labelNames: ['topic', 'partition'], registers: [this.registry]})
    // Read at scrape time: the first gauge's collect() fills all four in one pass, before any is read.
    const collect = () => {
      logEndOffset.reset()
      segments.reset()
      sizeBytes.reset()
      damaged.reset()
      for (const topic of broker.listTopics(true)) {
        for (const partition of topic.partitions) {
          const labels = {topic: topic.name, partition: String(partition.partition)}
          if (partition.state === 'damaged') {
            damaged.set(labels, 1)
            continue
          }
          logEndOffset.set(labels, partition.logEndOffset)
          segments.set(labels, partition.segmentCount)
          sizeBytes.set(labels, partition.sizeBytes)
        }
      }
    }
    // Counted by the storage engine, process-wide; read at scrape time.
    new Counter({name: 'lignum_storage_full_errors_total', help: 'Writes refused because the data directory was full (STORAGE_FULL)', registers: [this.registry], collect() {
      this.reset()
      this.inc(storageFullErrorCount())
    }})
    // Read at scrape time: each partition counts the retries it answered from producer state.
    new Counter({
      name: 'lignum_produce_duplicates_total',
      help: 'Resent batches answered with their first offsets instead of appended again',
      registers: [this.registry],
      collect() {
        this.reset()
        this.inc(broker.duplicateBatchesAnswered())
      },
    })
    // Process-wide, as the handle cache is (segmentHandlesOpenMax bounds its idle part).
    new Gauge({name: 'lignum_segment_handles_open', help: 'Open file handles of closed segments, idle or in use', registers: [this.registry], collect() {
      this.set(segmentHandlesOpen())
    }})
    const logEndOffset = new Gauge({name: 'lignum_log_end_offset', help: 'Next offset of each partition', labelNames: ['topic', 'partition'], registers: [this.registry]})
  }
}
