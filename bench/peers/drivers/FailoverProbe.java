/*
 * The Kafka side of the failover benchmark (bench/failover.ts): one JVM holding a steady
 * acks=all, idempotent producer and an Admin client, driven by one command per line on stdin,
 * answering one line per command on stdout (diagnostics go to stderr). Compiled at bench time
 * against the kafka-clients jar of the installed Kafka (bench/peers/kafka-failover-probe.ts).
 *
 * The producer sends one record at a time to the partition named by the last `produce`
 * command and waits for its acknowledgement before the next (the same closed loop as the
 * Lignum side), noting the System.nanoTime of every send and of its acknowledgement. The
 * failover ends at the first acknowledgement of a record sent after the kill: the answer to a
 * record the old leader acknowledged just before it died can still arrive after the kill, and
 * says nothing about the new leader. nanoTime is
 * CLOCK_MONOTONIC on Linux, the clock Node's process.hrtime reads too: the harness passes the
 * moment it killed a broker in that clock, and checks the two agree with `clock` first.
 *
 * Commands and answers:
 *   clock                                  -> clock <nanoTime>
 *   create <topic> <partitions> <rf> <minIsr> -> created
 *   delete <topic>                         -> deleted
 *   describe <topic>                       -> describe <controllerId> <partition>:<leader>:<isr,...> ...
 *   produce <topic> <partition>            -> producing
 *   idle                                   -> idle       (the load stops sending)
 *   errors                                 -> errors <sends that failed so far>
 *   acks <count>                           -> acked <n>  (once n >= count since `produce`)
 *   failover <sinceNanos> <oldLeader> <timeoutMs>
 *       -> failover <firstAckNanos|-1> <leaderSeenNanos|-1> <newLeader|-1> <sendErrors>
 *          (firstAckNanos: the first acknowledgement of a record sent after sinceNanos)
 *   quit                                   -> (exits)
 * A command that fails answers `error <message>`.
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class FailoverProbe {
    /** How often the leader is asked for while a failover is under way: the resolution of "leader seen". */
    private static final long LEADER_POLL_MS = 50;
    /** An Admin call to a cluster that just lost a broker answers in well under this; longer means it is stuck. */
    private static final int ADMIN_TIMEOUT_MS = 3_000;
    private static final int RECORD_BYTES = 100;

    private final KafkaProducer<byte[], byte[]> producer;
    private final Admin admin;
    /** Pairs, in send order: when a record was sent, when it was acknowledged. Guarded by itself. */
    private final List<long[]> ackNanos = new ArrayList<>();
    private volatile String topic;
    private volatile int partition = -1;
    private volatile long sendErrors;
    private volatile String lastError = "";

    private FailoverProbe(String bootstrap, List<String> producerSettings) {
        Properties producerProperties = new Properties();
        producerProperties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        producerProperties.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producerProperties.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        for (String setting : producerSettings) {
            int equals = setting.indexOf('=');
            if (equals <= 0) throw new IllegalArgumentException("producer setting without '=': " + setting);
            producerProperties.put(setting.substring(0, equals), setting.substring(equals + 1));
        }
        producer = new KafkaProducer<>(producerProperties);
        Properties adminProperties = new Properties();
        adminProperties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        adminProperties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(ADMIN_TIMEOUT_MS));
        adminProperties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(ADMIN_TIMEOUT_MS));
        admin = Admin.create(adminProperties);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: FailoverProbe <bootstrap servers> [producer.setting=value ...]");
            System.exit(2);
        }
        FailoverProbe probe = new FailoverProbe(args[0], List.of(args).subList(1, args.length));
        Thread load = new Thread(probe::sendSteadily, "steady-load");
        load.setDaemon(true);
        load.start();
        BufferedReader input = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = input.readLine(); line != null && !line.equals("quit"); line = input.readLine()) {
            String answer;
            try {
                answer = probe.answer(line.trim().split(" "));
            } catch (Exception error) {
                answer = "error " + String.valueOf(error).replace('\n', ' ');
            }
            System.out.println(answer);
            System.out.flush();
        }
        probe.producer.close();
        probe.admin.close();
        System.exit(0);
    }

    private String answer(String[] words) throws Exception {
        switch (words[0]) {
            case "clock": return "clock " + System.nanoTime();
            case "create": return create(words[1], Integer.parseInt(words[2]), Short.parseShort(words[3]), words[4]);
            case "delete":
                admin.deleteTopics(List.of(words[1])).all().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                return "deleted";
            case "describe": return describe(words[1]);
            case "produce": return produce(words[1], Integer.parseInt(words[2]));
            case "idle":
                produce(null, -1);
                return "idle";
            case "errors": return "errors " + sendErrors;
            case "acks": return "acked " + awaitAcks(Integer.parseInt(words[1]));
            case "failover": return failover(Long.parseLong(words[1]), Integer.parseInt(words[2]), Long.parseLong(words[3]));
            default: throw new IllegalArgumentException("unknown command " + words[0]);
        }
    }

    private String create(String name, int partitions, short replicationFactor, String minInsyncReplicas) throws Exception {
        NewTopic topic = new NewTopic(name, partitions, replicationFactor).configs(Map.of("min.insync.replicas", minInsyncReplicas));
        admin.createTopics(List.of(topic)).all().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        return "created";
    }

    private String describe(String name) throws Exception {
        int controller = admin.describeMetadataQuorum().quorumInfo().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS).leaderId();
        TopicDescription description = admin.describeTopics(List.of(name)).allTopicNames().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS).get(name);
        StringBuilder line = new StringBuilder("describe ").append(controller);
        for (TopicPartitionInfo info : description.partitions()) {
            String isr = info.isr().stream().map(node -> String.valueOf(node.id())).collect(Collectors.joining(","));
            line.append(' ').append(info.partition()).append(':').append(leaderId(info)).append(':').append(isr.isEmpty() ? "-" : isr);
        }
        return line.toString();
    }

    private static int leaderId(TopicPartitionInfo info) {
        Node leader = info.leader();
        return leader == null || leader.isEmpty() ? -1 : leader.id();
    }

    private String produce(String name, int to) {
        synchronized (ackNanos) {
            ackNanos.clear();
            topic = name;
            partition = to;
        }
        return "producing";
    }

    private int awaitAcks(int count) throws InterruptedException {
        synchronized (ackNanos) {
            while (ackNanos.size() < count) ackNanos.wait();
            return ackNanos.size();
        }
    }

    private void sendSteadily() {
        byte[] value = new byte[RECORD_BYTES];
        for (;;) {
            String to;
            int toPartition;
            synchronized (ackNanos) {
                to = topic;
                toPartition = partition;
            }
            try {
                if (to == null) {
                    Thread.sleep(LEADER_POLL_MS);
                    continue;
                }
                long sentAt = System.nanoTime();
                producer.send(new ProducerRecord<>(to, toPartition, null, value)).get();
                long now = System.nanoTime();
                synchronized (ackNanos) {
                    if (to.equals(topic) && toPartition == partition) ackNanos.add(new long[] {sentAt, now});
                    ackNanos.notifyAll();
                }
            } catch (InterruptedException stop) {
                return;
            } catch (Exception error) {
                sendErrors++;
                lastError = String.valueOf(error);
                System.err.println("send failed: " + lastError);
            }
        }
    }

    /**
     * Waits for the first acknowledgement after `sinceNanos` (the kill) and notes when Admin
     * first shows the partition led by another broker; either may come first.
     */
    private String failover(long sinceNanos, int oldLeader, long timeoutMs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        long leaderSeen = -1;
        int newLeader = -1;
        long firstAck = -1;
        while (System.nanoTime() < deadline && (firstAck < 0 || leaderSeen < 0)) {
            if (firstAck < 0) firstAck = firstAckAfter(sinceNanos);
            if (leaderSeen < 0) {
                int leader = currentLeader();
                if (leader >= 0 && leader != oldLeader) {
                    leaderSeen = System.nanoTime();
                    newLeader = leader;
                }
            }
            if (firstAck < 0 || leaderSeen < 0) Thread.sleep(LEADER_POLL_MS);
        }
        return "failover " + firstAck + " " + leaderSeen + " " + newLeader + " " + sendErrors;
    }

    private long firstAckAfter(long sinceNanos) {
        synchronized (ackNanos) {
            for (long[] sentAndAcked : ackNanos) if (sentAndAcked[0] > sinceNanos) return sentAndAcked[1];
            return -1;
        }
    }

    private int currentLeader() {
        try {
            String name = topic;
            TopicDescription description = admin.describeTopics(List.of(name)).allTopicNames().get(ADMIN_TIMEOUT_MS, TimeUnit.MILLISECONDS).get(name);
            return leaderId(description.partitions().get(partition));
        } catch (Exception unanswered) {
            return -1;
        }
    }
}
