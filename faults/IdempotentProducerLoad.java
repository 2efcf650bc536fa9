/*
 * The fault suite's steady load through Kafka's own Java client: one KafkaProducer with
 * enable.idempotence=true, acks=all, unlimited retries and five requests in flight (what Kafka's
 * users run), sending numbered unique values to one partition at a fixed rate until its stdin
 * closes, then flushing and closing. Run as a single-file program on Kafka's classpath:
 *
 *   java -cp '<kafka>/libs/*' IdempotentProducerLoad.java BOOTSTRAP TOPIC PARTITION LABEL \
 *     INTERVAL_MS RECORDS_PER_TICK DELIVERY_TIMEOUT_MS REQUEST_TIMEOUT_MS
 *
 * It prints one JSON line per event on stdout, so faults/kafka-workload.ts can hand the
 * checker what the producer was told:
 *   {"ready":true}                                  metadata fetched, sending starts
 *   {"sent":"V","atMs":T}                           V handed to send()
 *   {"acked":"V","partition":P,"offset":O,"atMs":T} the send callback's acknowledgement
 *   {"failed":"V","atMs":T,"error":"..."}           the send callback's error
 *   {"stats":{...}}                                 the producer's retry and error totals, at the end
 * Every "sent" value is printed before send() is called, so an answer never precedes it.
 */
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.StringSerializer;

public class IdempotentProducerLoad {
  private static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
  private static volatile boolean running = true;

  public static void main(String[] args) throws Exception {
    if (args.length != 8) {
      System.err.println("usage: IdempotentProducerLoad BOOTSTRAP TOPIC PARTITION LABEL INTERVAL_MS RECORDS_PER_TICK DELIVERY_TIMEOUT_MS REQUEST_TIMEOUT_MS");
      System.exit(2);
    }
    String bootstrap = args[0];
    String topic = args[1];
    int partition = Integer.parseInt(args[2]);
    String label = args[3];
    long intervalMs = Long.parseLong(args[4]);
    int recordsPerTick = Integer.parseInt(args[5]);
    Properties settings = new Properties();
    settings.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    settings.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    settings.put(ProducerConfig.ACKS_CONFIG, "all");
    settings.put(ProducerConfig.RETRIES_CONFIG, String.valueOf(Integer.MAX_VALUE));
    settings.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
    settings.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, args[6]);
    settings.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, args[7]);
    settings.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    settings.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    settings.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    Thread stdinWatch = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {}
      } catch (Exception ignored) {
        // A closed or broken stdin means the same: stop.
      }
      running = false;
    });
    stdinWatch.setDaemon(true);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(settings)) {
      producer.partitionsFor(topic);
      emit("{\"ready\":true}");
      stdinWatch.start();
      long sequence = 0;
      while (running) {
        for (int index = 0; index < recordsPerTick; index++) {
          String value = label + "-" + sequence++;
          emit("{\"sent\":\"" + value + "\",\"atMs\":" + System.currentTimeMillis() + "}");
          producer.send(new ProducerRecord<>(topic, partition, null, value), (metadata, error) -> {
            long atMs = System.currentTimeMillis();
            if (error == null) emit("{\"acked\":\"" + value + "\",\"partition\":" + metadata.partition() + ",\"offset\":" + metadata.offset() + ",\"atMs\":" + atMs + "}");
            else emit("{\"failed\":\"" + value + "\",\"atMs\":" + atMs + ",\"error\":\"" + escaped(error.getClass().getSimpleName() + ": " + error.getMessage()) + "\"}");
          });
        }
        Thread.sleep(intervalMs);
      }
      producer.flush();
      emit("{\"stats\":{\"recordRetries\":" + total(producer.metrics(), "record-retry-total") + ",\"recordErrors\":" + total(producer.metrics(), "record-error-total") + "}}");
    }
  }

  private static synchronized void emit(String line) {
    OUT.println(line);
  }

  private static long total(Map<MetricName, ? extends Metric> metrics, String name) {
    for (Map.Entry<MetricName, ? extends Metric> entry : metrics.entrySet()) {
      if (entry.getKey().name().equals(name) && entry.getKey().group().equals("producer-metrics")) return Math.round((Double) entry.getValue().metricValue());
    }
    return -1;
  }

  private static String escaped(String text) {
    StringBuilder out = new StringBuilder();
    for (char c : String.valueOf(text).toCharArray()) {
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.toString();
  }
}
