/**
 * What the runner needs from each system under test. An adapter reports whether it can run
 * on this machine (and why not), starts one server on its own scratch directory and loopback
 * ports, and drives each workload with the system's own load tools. A running system may
 * take more than one measurement per workload (Lignum: the CLI and the client library).
 */
import type {Durability, Measurement, Workload} from './workloads.js'

export type SystemName = 'lignum' | 'kafka' | 'nats-jetstream'

/**
 * Wraps one load-tool run: the runner resets the server's peak RSS and reads its CPU time
 * around `drive`, and records the result as one row named `workloadName` (also when it fails).
 */
export type ServerMeter = (workloadName: string, drive: () => Promise<Measurement>) => Promise<void>

export interface RunningSystem {
  /** The server process whose CPU and peak RSS are reported. */
  pid: number
  /** host:port of the server's client port, where the adapter knows it. */
  address?: string
  /** Runs every measurement of `workload`, each inside `meter`. */
  run(workload: Workload, meter: ServerMeter): Promise<void>
  stop(): Promise<void>
}

export interface SystemUnderTest {
  name: SystemName
  /** Null when usable; otherwise why not (the rows say so and the rest still runs). */
  unavailableReason(): Promise<string | null>
  version(): Promise<string>
  /** The throughput and durability settings, as they go into the results. */
  settings(durability: Durability): Record<string, string>
  start(dataDir: string, durability: Durability): Promise<RunningSystem>
  /** Removes whatever the adapter left in the shared scratch directory (input files). */
  cleanup?(): Promise<void>
}
