// Sends raw OTLP/gRPC log exports with @grpc/grpc-js and prints one JSON line per call with the
// status code, whether a google.rpc.RetryInfo-carrying grpc-status-details-bin trailer came
// back, and the message. Used by test_backpressure.py and test_tls_rotation.py.
//   node grpc_probe.mjs --endpoint 127.0.0.1:4317 --token T --calls N
//        [--interval-ms MS] [--fresh 1] [--ca FILE [--cert FILE --key FILE]]
// --ca turns TLS on (the CA the client trusts; --cert/--key: a client certificate). Over TLS each
// line also carries `fingerprint`, the SHA-256 (lower-case hex) of the server certificate seen
// in the handshake of the channel the call used. --fresh 1 opens a new channel (a new TCP
// connection and handshake) for every call; --interval-ms waits between calls. Every line is
// written as soon as its call ends, so a test can follow a long run.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import grpc from '@grpc/grpc-js';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 === 0 ? acc.concat([[v.slice(2), a[i + 1]]]) : acc), []));
const calls = Number(args.calls || 1);
const intervalMs = Number(args['interval-ms'] || 0);
const fresh = args.fresh === '1';
// ExportLogsServiceRequest { resource_logs { scope_logs { log_records { body { string_value: "x" } } } } }
const request = Buffer.from([0x0a, 0x09, 0x12, 0x07, 0x12, 0x05, 0x2a, 0x03, 0x0a, 0x01, 0x78]);
const Client = grpc.makeGenericClientConstructor({
  Export: {
    path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b,
    responseSerialize: (b) => b,
    responseDeserialize: (b) => b,
  },
});

// A channel and the fingerprint of the server certificate its last handshake saw.
function connect() {
  const state = { fingerprint: null };
  let creds = grpc.credentials.createInsecure();
  if (args.ca) {
    creds = grpc.credentials.createSsl(
      readFileSync(args.ca), args.key ? readFileSync(args.key) : null,
      args.cert ? readFileSync(args.cert) : null, {
        checkServerIdentity: (host, cert) => {
          state.fingerprint = cert.fingerprint256.replace(/:/g, '').toLowerCase();
          return tls.checkServerIdentity(host, cert);
        },
      });
  }
  // A channel of its own: grpc-js would otherwise share subchannels (and their connections)
  // between clients with equal options.
  const options = fresh ? { 'grpc.use_local_subchannel_pool': 1 } : {};
  state.client = new Client(args.endpoint, creds, options);
  return state;
}

let channel = fresh ? null : connect();
for (let i = 0; i < calls; i++) {
  if (fresh) channel = connect();
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${args.token}`);
  const result = await new Promise((resolve) => {
    channel.client.Export(request, md, { deadline: Date.now() + 10000 }, (err) => {
      if (!err) return resolve({ code: 0 });
      const details = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
      resolve({ code: err.code, details: details.length > 0, message: err.details });
    });
  });
  if (args.ca) result.fingerprint = channel.fingerprint;
  result.time = Date.now() / 1000;
  console.log(JSON.stringify(result));
  if (fresh) channel.client.close();
  if (intervalMs > 0 && i + 1 < calls) await new Promise((r) => setTimeout(r, intervalMs));
}
channel.client.close();
