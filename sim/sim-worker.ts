/**
 * One worker thread of `npm run simulate`: runs the seeds the main thread hands it, one at a
 * time, and answers each with its result. A worker has its own module instances (its own
 * segment handle cache, its own installed file system), so seeds in different workers share
 * nothing, and a seed's run is the same in a worker as inline.
 */
import {parentPort} from 'node:worker_threads'
import {runJob, type SeedJob} from './seed-runs.js'

if (!parentPort) throw new Error('sim-worker.ts runs as a worker thread of sim/main.ts')
const port = parentPort
port.on('message', (job: SeedJob) => {
  void runJob(job).then((outcome) => port.postMessage(outcome))
})
