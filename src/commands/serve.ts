import {Flags} from '@oclif/core'
import {routeGrpcLogs} from '../cli/grpc-logging.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {redactSecrets} from '../config/schema.js'
import {createLogger} from '../logger.js'
import {LignumNode} from '../server/node.js'
import {quietIpServerNameWarning} from '../tls/ip-server-name.js'

export default class Serve extends LignumCommand {
  static override summary = 'Run a Lignum node.'

  static override description = `With no configuration this is a complete single-node broker keeping its data in ./lignum-data, serving gRPC on 50051 and the HTTP API on 8080. Given --consul it joins a cluster.

Every setting also comes from a configuration file (lignum.config.{json,yaml,js}, .lignumrc, a "lignum" key in package.json) or a LIGNUM_* environment variable (e.g. LIGNUM_GRPC_PORT); flags win over the environment, the environment over the file. SIGINT or SIGTERM stops the node cleanly.`

  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --data-dir /var/lib/lignum --grpc-port 50051 --http-port 8080',
    '<%= config.bin %> serve --consul http://127.0.0.1:8500 --node-id n1 --advertise-address 10.0.0.5:50051',
    'LIGNUM_FLUSH_POLICY=always <%= config.bin %> serve --print-config',
    'CONSUL_HTTP_TOKEN=… <%= config.bin %> serve --consul https://127.0.0.1:8501 --consul-ca-file consul-ca.pem',
    '<%= config.bin %> serve --tls-cert-file node.pem --tls-key-file node-key.pem --tls-ca-file ca.pem --tls-client-auth required',
    '<%= config.bin %> serve --http-tokens-file /etc/lignum/http-tokens --http-metrics-access authenticated',
    '<%= config.bin %> serve --tls-cert-file node.pem --tls-key-file node-key.pem --tls-ca-file ca.pem --tls-client-auth required --acl-enabled --acl-rules-file acl.json --acl-super-users node-1,admin',
  ]

  static override flags = {
    ...LignumCommand.configFlag,
    'data-dir': Flags.string({char: 'd', description: 'directory holding the partitions [default: ./lignum-data]'}),
    'grpc-port': Flags.string({description: 'gRPC port [default: 50051]'}),
    'http-port': Flags.string({description: 'HTTP API port [default: 8080]'}),
    'kafka-port': Flags.string({description: 'port of the Kafka-protocol listener for Kafka\'s clients (kcat, the Java tools, kafkajs) [default: off]'}),
    'kafka-advertise-address': Flags.string({description: 'host:port where Kafka clients reach this node\'s Kafka listener'}),
    host: Flags.string({description: 'address to listen on [default: 0.0.0.0]'}),
    'node-id': Flags.string({description: 'this node\'s id [default: kept in the data directory]'}),
    'flush-policy': Flags.string({description: '"always", "never", or fdatasync every N ms [default: 1000]'}),
    consul: Flags.string({description: 'Consul HTTP address, e.g. http://127.0.0.1:8500 or https://127.0.0.1:8501; joins a cluster'}),
    // No --consul-token: a flag's value shows in `ps` to every user of the machine.
    'consul-token-file': Flags.string({description: 'file holding the Consul ACL token [or CONSUL_HTTP_TOKEN_FILE; the token itself: CONSUL_HTTP_TOKEN or consul.token]', helpGroup: 'CONSUL'}),
    'consul-ca-file': Flags.string({description: 'PEM CA to trust Consul\'s HTTPS certificate by [or CONSUL_CACERT]', helpGroup: 'CONSUL'}),
    'consul-cert-file': Flags.string({description: 'PEM client certificate to present to Consul [or CONSUL_CLIENT_CERT]', helpGroup: 'CONSUL'}),
    'consul-key-file': Flags.string({description: 'PEM private key of --consul-cert-file [or CONSUL_CLIENT_KEY]', helpGroup: 'CONSUL'}),
    cluster: Flags.string({description: 'cluster name [default: lignum]'}),
    'advertise-address': Flags.string({description: 'host:port where others reach this node\'s gRPC'}),
    'log-level': Flags.string({description: 'debug, info, warn or error [default: info]'}),
    'tls-cert-file': Flags.string({description: 'PEM certificate (chain) of this node; turns TLS on for gRPC, HTTP, Kafka and node-to-node traffic', helpGroup: 'TLS'}),
    'tls-key-file': Flags.string({description: 'PEM private key of --tls-cert-file', helpGroup: 'TLS'}),
    'tls-ca-file': Flags.string({description: 'PEM CA that signs client and node certificates', helpGroup: 'TLS'}),
    'tls-client-auth': Flags.string({description: 'none, requested or required (mutual TLS) [default: none]', helpGroup: 'TLS'}),
    'tls-principal-mapping-rules': Flags.string({description: 'how a client certificate names its principal, as Kafka\'s ssl.principal.mapping.rules: comma-separated RULE:<regex>/<replacement>/[L|U], SAN:<DNS|URI|IP|EMAIL>:<regex>/<replacement>/[L|U], DEFAULT (the CN) [default: DEFAULT]', helpGroup: 'TLS'}),
    'http-tokens-file': Flags.string({description: 'file of principal:sha256:<hash> lines (lignum http-token create makes them); HTTP requests may send Authorization: Bearer <token>', helpGroup: 'HTTP'}),
    'http-metrics-access': Flags.string({description: 'who may read /metrics: open or authenticated (a client certificate or a bearer token) [default: open]', helpGroup: 'HTTP'}),
    'acl-enabled': Flags.boolean({description: 'check every request against authorization rules; no matching rule: denied [default: false]', allowNo: true, helpGroup: 'AUTHORIZATION'}),
    'acl-rules-file': Flags.string({description: 'JSON file of the rules (acl store file), reloaded on change', helpGroup: 'AUTHORIZATION'}),
    'acl-super-users': Flags.string({description: 'comma-separated principals allowed everything (the nodes\' own, operators)', helpGroup: 'AUTHORIZATION'}),
    'acl-store': Flags.string({description: 'file, or consul: one key of the cluster, the same rules on every node [default: file]', helpGroup: 'AUTHORIZATION'}),
    'print-config': Flags.boolean({description: 'print the resolved configuration as JSON and exit'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve)
    const config = await this.resolveConfig(
      {
        dataDir: flags['data-dir'],
        grpcPort: flags['grpc-port'],
        httpPort: flags['http-port'],
        kafkaPort: flags['kafka-port'],
        kafkaAdvertiseAddress: flags['kafka-advertise-address'],
        host: flags.host,
        nodeId: flags['node-id'],
        flushPolicy: flags['flush-policy'],
        consul: flags.consul,
        consulTokenFile: flags['consul-token-file'],
        consulCaFile: flags['consul-ca-file'],
        consulCertFile: flags['consul-cert-file'],
        consulKeyFile: flags['consul-key-file'],
        cluster: flags.cluster,
        advertiseAddress: flags['advertise-address'],
        logLevel: flags['log-level'] ?? process.env.LOG_LEVEL,
        tlsCertFile: flags['tls-cert-file'],
        tlsKeyFile: flags['tls-key-file'],
        tlsCaFile: flags['tls-ca-file'],
        tlsClientAuth: flags['tls-client-auth'],
        tlsPrincipalMappingRules: flags['tls-principal-mapping-rules'],
        httpTokensFile: flags['http-tokens-file'],
        httpMetricsAccess: flags['http-metrics-access'],
        aclEnabled: flags['acl-enabled'],
        aclRulesFile: flags['acl-rules-file'],
        aclSuperUsers: flags['acl-super-users'],
        aclStore: flags['acl-store'],
      },
      flags.config,
    )
    if (flags['print-config']) {
      this.log(JSON.stringify(redactSecrets(config), null, 2))
      return
    }
    const logger = createLogger({level: config.logLevel})
    routeGrpcLogs(logger)
    quietIpServerNameWarning()
    const node = await LignumNode.start(config, this.config.version, logger)
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        logger.info('shutting down', {signal})
        node.stop().then(resolve, (error) => {
          logger.error('shutdown failed', {error})
          process.exitCode = 1
          resolve()
        })
      }
      process.once('SIGINT', () => shutdown('SIGINT'))
      process.once('SIGTERM', () => shutdown('SIGTERM'))
    })
  }
}
