/**
 * Network partitions for the fault suite, from Linux network namespaces (needs root and
 * `ip`): each member gets a namespace of its own, joined to one bridge on the host by a veth
 * pair, with an address of its own on a private /24 (the host keeps .254 on the bridge, so a
 * process on the host, such as Consul, is reachable from every namespace). Setting a member's
 * host-side link down cuts it from everyone; up heals it. One link between two members is cut
 * with a blackhole route to the other's address in each namespace (the kernel here has no
 * netfilter or traffic-control qdiscs): packets between them go nowhere, both directions,
 * everyone else still reaches both. Everything is created under names carrying this process's
 * id and the lab's number within the process (so concurrent runs have labs of their own, on
 * subnets of their own) and removed by `destroy`, also after a failed `create`; traffic never
 * leaves the namespaces and the bridge created here.
 */
import {execFile, spawn, type ChildProcess, type SpawnOptions} from 'node:child_process'
import {promisify} from 'node:util'

const run = promisify(execFile)
// Interface names are at most 15 bytes (IFNAMSIZ - 1): a short prefix, the pid, an index.
const NAME_PREFIX = 'lgf'
const HOST_ADDRESS_SUFFIX = 254
const MEMBERS_MAX = 200
// Labs one process may have at once: each takes a /24 of 10.<231 + n>.<pid>.0, below 10.255.
const CONCURRENT_LABS_MAX = 24
let labsCreated = 0
const IP_TIMEOUT_MS = 10_000

export interface Member {
  name: string
  namespace: string
  address: string
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args, {timeout: IP_TIMEOUT_MS})
}

export class NetworkLab {
  private readonly members: Member[] = []
  private bridgeUp = false

  private constructor(
    private readonly id: string,
    /** The first three octets of the lab's /24, such as 10.231.7. */
    private readonly subnet: string,
  ) {}

  /**
   * A lab of `names.length` members on 10.<231 + k>.<n>.0/24: `n` (the pid) keeps labs of
   * concurrent processes apart, `k` (the lab's number in this process) those of one process.
   */
  static async create(names: string[], subnetIndex = process.pid % 250): Promise<NetworkLab> {
    if (names.length > MEMBERS_MAX) throw new Error(`at most ${MEMBERS_MAX} members in a lab, not ${names.length}`)
    const slot = labsCreated++ % CONCURRENT_LABS_MAX
    const lab = new NetworkLab(`${NAME_PREFIX}${process.pid % 100_000}${String.fromCharCode(97 + slot)}`, `10.${231 + slot}.${subnetIndex}`)
    try {
      await lab.addBridge()
      for (const name of names) await lab.addMember(name)
    } catch (error) {
      await lab.destroy()
      throw error
    }
    return lab
  }

  get hostAddress(): string {
    return `${this.subnet}.${HOST_ADDRESS_SUFFIX}`
  }

  private get bridge(): string {
    return `${this.id}br`
  }

  member(name: string): Member {
    const member = this.members.find((candidate) => candidate.name === name)
    if (!member) throw new Error(`no member ${name} in the lab`)
    return member
  }

  private hostLink(index: number): string {
    return `${this.id}h${index}`
  }

  private async addBridge(): Promise<void> {
    await ip('link', 'add', this.bridge, 'type', 'bridge')
    this.bridgeUp = true
    await ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.bridge)
    await ip('link', 'set', this.bridge, 'up')
  }

  private async addMember(name: string): Promise<void> {
    const index = this.members.length
    const namespace = `${this.id}n${index}`
    const inside = `${this.id}m${index}`
    const member = {name, namespace, address: `${this.subnet}.${index + 1}`}
    await ip('netns', 'add', namespace)
    this.members.push(member)
    await ip('link', 'add', this.hostLink(index), 'type', 'veth', 'peer', 'name', inside)
    await ip('link', 'set', inside, 'netns', namespace)
    await ip('link', 'set', this.hostLink(index), 'master', this.bridge)
    await ip('link', 'set', this.hostLink(index), 'up')
    await ip('-n', namespace, 'addr', 'add', `${member.address}/24`, 'dev', inside)
    await ip('-n', namespace, 'link', 'set', inside, 'up')
    await ip('-n', namespace, 'link', 'set', 'lo', 'up')
  }

  /** Cuts the member from every other member and from the host. */
  async isolate(name: string): Promise<void> {
    await ip('link', 'set', this.hostLink(this.members.indexOf(this.member(name))), 'down')
  }

  async heal(name: string): Promise<void> {
    await ip('link', 'set', this.hostLink(this.members.indexOf(this.member(name))), 'up')
  }

  /** Cuts only the link between members `a` and `b`, both directions; each still reaches everyone else. */
  async cut(a: string, b: string): Promise<void> {
    await ip('-n', this.member(a).namespace, 'route', 'add', 'blackhole', `${this.member(b).address}/32`)
    await ip('-n', this.member(b).namespace, 'route', 'add', 'blackhole', `${this.member(a).address}/32`)
  }

  /** Restores the link `cut` cut. */
  async mend(a: string, b: string): Promise<void> {
    await ip('-n', this.member(a).namespace, 'route', 'del', 'blackhole', `${this.member(b).address}/32`)
    await ip('-n', this.member(b).namespace, 'route', 'del', 'blackhole', `${this.member(a).address}/32`)
  }

  /** Starts `command` inside the member's namespace. */
  spawnIn(name: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.member(name).namespace, command, ...args], options)
  }

  /** Removes every namespace, link and the bridge it made; safe to call twice. */
  async destroy(): Promise<void> {
    for (const [index, member] of this.members.entries()) {
      await ip('link', 'del', this.hostLink(index)).catch(() => undefined)
      await ip('netns', 'del', member.namespace).catch(() => undefined)
    }
    this.members.length = 0
    if (this.bridgeUp) await ip('link', 'del', this.bridge).catch(() => undefined)
    this.bridgeUp = false
  }
}

/** Why network namespaces cannot be used here, or undefined when they can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  try {
    await run('ip', ['netns', 'list'], {timeout: IP_TIMEOUT_MS})
    return undefined
  } catch (error) {
    return `ip netns does not work here: ${error instanceof Error ? error.message : String(error)}`
  }
}
