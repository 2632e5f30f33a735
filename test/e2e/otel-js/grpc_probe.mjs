// Sends raw OTLP/gRPC log exports with @grpc/grpc-js and prints one JSON line per call with the
// status code, whether a google.rpc.RetryInfo-carrying grpc-status-details-bin trailer came
// back, and the message. Used by test_backpressure.py.
//   node grpc_probe.mjs --endpoint 127.0.0.1:4317 --token T --calls N
import grpc from '@grpc/grpc-js';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 === 0 ? acc.concat([[v.slice(2), a[i + 1]]]) : acc), []));
const calls = Number(args.calls || 1);
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
const client = new Client(args.endpoint, grpc.credentials.createInsecure());
for (let i = 0; i < calls; i++) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${args.token}`);
  const result = await new Promise((resolve) => {
    client.Export(request, md, { deadline: Date.now() + 10000 }, (err) => {
      if (!err) return resolve({ code: 0 });
      const details = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
      resolve({ code: err.code, details: details.length > 0, message: err.details });
    });
  });
  console.log(JSON.stringify(result));
}
client.close();
