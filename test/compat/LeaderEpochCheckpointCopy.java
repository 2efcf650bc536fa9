import java.io.File;
import java.util.List;
import org.apache.kafka.storage.internals.checkpoint.LeaderEpochCheckpointFile;
import org.apache.kafka.storage.internals.log.EpochEntry;
import org.apache.kafka.storage.internals.log.LogDirFailureChannel;

/**
 * Reads a leader-epoch-checkpoint with Kafka's own class (the one its broker loads a partition
 * with), prints the entries, and writes them again with Kafka's own writer, so a test can
 * compare Kafka's bytes with Lignum's. Usage: java -cp 'kafka/lib/*' LeaderEpochCheckpointCopy.java IN OUT
 */
public class LeaderEpochCheckpointCopy {
    public static void main(String[] args) throws Exception {
        LogDirFailureChannel failures = new LogDirFailureChannel(1);
        List<EpochEntry> entries = new LeaderEpochCheckpointFile(new File(args[0]), failures).read();
        for (EpochEntry entry : entries) System.out.println("epoch " + entry.epoch + " startOffset " + entry.startOffset);
        new LeaderEpochCheckpointFile(new File(args[1]), failures).write(entries);
    }
}
