// Sends traces, logs and metrics through the real OpenTelemetry JS SDK and its OTLP exporters,
// then prints a JSON summary of exactly what was exported, in OTLP/JSON form, so that a test can
// compare what a receiver wrote field by field.
//
// Usage:
//   node send.mjs --transport http-json|http-protobuf|grpc --endpoint URL --token T --run-id ID
//                 [--count N] [--compression none|gzip] [--expect-failure] [--timeout-ms MS]
//                 [--ca FILE] [--cert FILE --key FILE]
//
// --endpoint is the base URL: http://127.0.0.1:4318 (or .../observability) for the HTTP
// transports, whose exporters post to <endpoint>/v1/{traces,logs,metrics}; http://127.0.0.1:4317
// for gRPC. Every export carries `Authorization: Bearer T` (gRPC: the `authorization` metadata).
// TLS: an https:// endpoint. --ca is the PEM file of the CA the client trusts (without it: the
// system's CAs); --cert/--key a client certificate for mutual TLS. The HTTP exporters get them
// through `httpAgentOptions` (an https.Agent), the gRPC ones through `credentials`
// (grpc.credentials.createSsl).
//
// Exit status: 0 when every export succeeded (or, with --expect-failure, when every export
// failed); 1 otherwise; 2 on bad usage; 3 when the whole run exceeded its time limit.
// The summary on stdout is one JSON object:
//   { transport, runId, ok, exports: {traces:[{code,error,errorCode,items}], logs, metrics},
//     traces: [ {resource, scope, span} ], logs: [ {resource, scope, log} ],
//     metrics: [ {resource, scope, metric} ] }
// where resource/scope/span/log/metric are OTLP/JSON objects (ids as lowercase hex, 64-bit
// integers as decimal strings, enums as numbers, fields with default values left out).

import { readFileSync } from 'node:fs';
import { Metadata, credentials } from '@grpc/grpc-js';
import { context, trace, SpanKind, SpanStatusCode, TraceFlags, ValueType } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  MeterProvider, PeriodicExportingMetricReader, AggregationTemporality, DataPointType,
} from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter as TraceHttp } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPLogExporter as LogsHttp } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter as MetricsHttp } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';

// ---------------------------------------------------------------------------------------------
// Arguments.

function usage(msg) {
  process.stderr.write(`send.mjs: ${msg}\n` +
    'usage: node send.mjs --transport http-json|http-protobuf|grpc --endpoint URL --token T ' +
    '--run-id ID [--count N] [--compression none|gzip] [--expect-failure] [--timeout-ms MS] ' +
    '[--ca FILE] [--cert FILE --key FILE]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { count: 5, compression: 'none', expectFailure: false, timeoutMs: 10000 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      return argv[++i];
    };
    switch (k) {
      case '--transport': a.transport = next(); break;
      case '--endpoint': a.endpoint = next(); break;
      case '--token': a.token = next(); break;
      case '--run-id': a.runId = next(); break;
      case '--count': a.count = Number(next()); break;
      case '--timeout-ms': a.timeoutMs = Number(next()); break;
      case '--compression': a.compression = next(); break;
      case '--expect-failure': a.expectFailure = true; break;
      case '--ca': a.ca = next(); break;
      case '--cert': a.cert = next(); break;
      case '--key': a.key = next(); break;
      default: usage(`unknown argument ${k}`);
    }
  }
  if (!['http-json', 'http-protobuf', 'grpc'].includes(a.transport)) usage('bad --transport');
  if (!['none', 'gzip'].includes(a.compression)) usage('bad --compression');
  if (!a.endpoint) usage('--endpoint is required');
  if (a.token === undefined) usage('--token is required');
  if (!a.runId) usage('--run-id is required');
  if (Boolean(a.cert) !== Boolean(a.key)) usage('--cert and --key go together');
  if ((a.ca || a.cert) && !a.endpoint.startsWith('https://')) {
    usage('TLS options need an https:// endpoint');
  }
  if (!Number.isInteger(a.count) || a.count < 2 || a.count > 1000) usage('--count must be 2..1000');
  return a;
}

const args = parseArgs(process.argv.slice(2));

// The whole run is bounded: a hung connection must not hang the test.
const watchdog = setTimeout(() => {
  process.stderr.write('send.mjs: time limit exceeded\n');
  process.exit(3);
}, 4 * args.timeoutMs + 15000);

// ---------------------------------------------------------------------------------------------
// Exporters, wrapped so that every export call's items and result are recorded.

const base = args.endpoint.replace(/\/+$/, '');
const headers = { Authorization: `Bearer ${args.token}` };
const tlsFiles = {
  ca: args.ca ? readFileSync(args.ca) : undefined,
  cert: args.cert ? readFileSync(args.cert) : undefined,
  key: args.key ? readFileSync(args.key) : undefined,
};
function grpcOptions() {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${args.token}`);
  const opts = {
    url: base, metadata, timeoutMillis: args.timeoutMs, compression: args.compression,
  };
  if (base.startsWith('https://')) {
    opts.credentials = credentials.createSsl(
      tlsFiles.ca ?? null, tlsFiles.key ?? null, tlsFiles.cert ?? null);
  }
  return opts;
}
function httpOptions(signal) {
  const opts = {
    url: `${base}/v1/${signal}`, headers, timeoutMillis: args.timeoutMs,
    compression: args.compression,
  };
  if (base.startsWith('https://')) {
    opts.httpAgentOptions = {
      keepAlive: true, ca: tlsFiles.ca, cert: tlsFiles.cert, key: tlsFiles.key,
    };
  }
  return opts;
}

const constructors = {
  'http-json': { traces: TraceHttp, logs: LogsHttp, metrics: MetricsHttp },
  'http-protobuf': { traces: TraceProto, logs: LogsProto, metrics: MetricsProto },
  grpc: { traces: TraceGrpc, logs: LogsGrpc, metrics: MetricsGrpc },
}[args.transport];

const exports = { traces: [], logs: [], metrics: [] };
const exported = { traces: [], logs: [], metrics: [] };  // what export() was handed, as OTLP/JSON

function recording(signal, exporter) {
  // A Proxy keeps every other method (selectAggregationTemporality, forceFlush, shutdown...).
  return new Proxy(exporter, {
    get(target, prop, receiver) {
      if (prop !== 'export') {
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return (items, done) => {
        const entry = { code: null, error: null, errorCode: null, items: 0 };
        exports[signal].push(entry);
        // Described now: the SDK may reuse its objects after the export.
        const described = describe[signal](items);
        exported[signal].push(...described);
        entry.items = described.length;
        target.export(items, (result) => {
          entry.code = result.code === ExportResultCode.SUCCESS ? 'SUCCESS' : 'FAILED';
          if (result.error) {
            entry.error = String(result.error?.message ?? result.error);
            // The HTTP status (OTLPExporterError) or the gRPC status code.
            if (result.error.code !== undefined) entry.errorCode = result.error.code;
          }
          done(result);
        });
      };
    },
  });
}

function makeExporter(signal) {
  const Ctor = constructors[signal];
  const opts = args.transport === 'grpc' ? grpcOptions() : httpOptions(signal);
  return recording(signal, new Ctor(opts));
}

// ---------------------------------------------------------------------------------------------
// Telemetry with recognizable values.

const resource = resourceFromAttributes({
  'service.name': `e2e-${args.transport}`,
  'service.version': '1.2.3',
  'e2e.run_id': args.runId,
  'e2e.transport': args.transport,
  'e2e.int': 42,
  'e2e.negative': -7,
  'e2e.big': 1099511627776,  // 2^40: more than 32 bits
  'e2e.double': 3.25,
  'e2e.bool': true,
  'e2e.strings': ['a', 'b', 'c'],
  'e2e.unicode': 'grüße ✓ 日本',
});

// Fixed, recognizable times: 2023-11-14T22:13:20Z plus offsets, with sub-microsecond digits.
const T0 = 1700000000;
const hr = (offsetMs, extraNs = 0) => {
  const ns = offsetMs * 1e6 + extraNs;
  return [T0 + Math.floor(ns / 1e9), ns % 1e9];
};

const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(makeExporter('traces'), {
    maxExportBatchSize: 10000, maxQueueSize: 10000, scheduledDelayMillis: 60000,
    exportTimeoutMillis: args.timeoutMs,
  })],
});
const loggerProvider = new LoggerProvider({
  resource,
  // sdk-logs 0.223 takes the exporter inside the options object.
  processors: [new BatchLogRecordProcessor({
    exporter: makeExporter('logs'), maxExportBatchSize: 10000, maxQueueSize: 10000, scheduledDelayMillis: 60000,
    exportTimeoutMillis: args.timeoutMs,
  })],
});
const meterProvider = new MeterProvider({
  resource,
  readers: [new PeriodicExportingMetricReader({
    exporter: makeExporter('metrics'), exportIntervalMillis: 3600000,
    exportTimeoutMillis: args.timeoutMs,
  })],
});

const tracer = tracerProvider.getTracer('e2e-tracer', '0.1.0');
const logger = loggerProvider.getLogger('e2e-logger', '0.2.0');
const meter = meterProvider.getMeter('e2e-meter', '0.3.0');

// Spans: one trace with a SERVER root and count-1 children of several kinds; each child has
// events, a link to its previous sibling (or to a foreign remote span), and a status.
const root = tracer.startSpan('e2e-root', {
  kind: SpanKind.SERVER,
  startTime: hr(0, 123),
  attributes: {
    'http.request.method': 'POST', 'http.response.status_code': 200, 'e2e.ratio': 0.5,
    'e2e.ok': true, 'e2e.run_id': args.runId,
  },
});
const rootCtx = trace.setSpan(context.active(), root);
const kinds = [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER];
let previous = {
  traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED, isRemote: true,
};
for (let i = 1; i < args.count; i++) {
  const span = tracer.startSpan(`e2e-child-${i}`, {
    kind: kinds[i % kinds.length],
    startTime: hr(10 * i, 456),
    attributes: {
      'e2e.index': i, 'e2e.name': `child ${i}`, 'e2e.weight': i + 0.25, 'e2e.even': i % 2 === 0,
      'e2e.ints': [i, i * 10, -i], 'e2e.doubles': [1.5, i + 0.5], 'e2e.bools': [true, false],
      'e2e.empty': '',
    },
    links: [{ context: previous, attributes: { 'e2e.link': `to ${previous.spanId}`, 'e2e.link.n': i } }],
  }, rootCtx);
  span.addEvent('e2e-event-start', { 'e2e.step': 'start', 'e2e.i': i }, hr(10 * i + 1, 7));
  span.addEvent('e2e-event-empty', hr(10 * i + 2));
  if (i % 3 === 0) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `failure ${i}` });
  } else if (i % 3 === 1) {
    span.setStatus({ code: SpanStatusCode.OK });
  }
  span.end(hr(10 * i + 5, 789));
  previous = span.spanContext();
}
root.setStatus({ code: SpanStatusCode.OK });
root.end(hr(10 * args.count + 10));

// Logs: severities in turn, string and map bodies, typed attributes, the root span's context.
const severities = [
  [SeverityNumber.INFO, 'INFO'], [SeverityNumber.WARN, 'WARN'], [SeverityNumber.ERROR, 'ERROR'],
  [SeverityNumber.DEBUG, 'DEBUG'], [SeverityNumber.FATAL4, 'FATAL4'],
];
for (let i = 0; i < args.count; i++) {
  const [severityNumber, severityText] = severities[i % severities.length];
  const body = i % 2 === 0
    ? `e2e log message ${i} from ${args.transport} "quoted" \\ back\nnewline`
    : {
      message: `structured ${i}`, index: i, ratio: i + 0.125, ok: i % 3 === 0,
      tags: ['x', 'y', i], nested: { level: 2, deeper: { name: 'inner' } },
      raw: new Uint8Array([0, 1, 2, 250, 255]),
    };
  const record = {
    timestamp: hr(1000 + i, 321),
    observedTimestamp: hr(2000 + i, 654),
    severityNumber, severityText, body,
    attributes: {
      'e2e.seq': i, 'e2e.run_id': args.runId, 'log.kind': i % 2 === 0 ? 'string' : 'map',
      'e2e.double': i / 4 + 0.1, 'e2e.flag': i % 2 === 1, 'e2e.list': ['l', String(i)],
      'e2e.map': { inner: `v${i}`, n: i },
    },
    context: rootCtx,
  };
  if (i === 1) record.eventName = 'e2e.event';
  logger.emit(record);
}

// Metrics: a counter (int), an up-down counter (int), a histogram (double, explicit buckets) and
// an observable gauge (double). Values are fixed so that each point is recognizable.
const attrsA = { 'e2e.run_id': args.runId, route: '/a' };
const attrsB = { 'e2e.run_id': args.runId, route: '/b', code: 500 };
const counter = meter.createCounter('e2e.requests', {
  description: 'requests seen', unit: '{request}', valueType: ValueType.INT,
});
counter.add(5, attrsA);
counter.add(2, attrsA);
counter.add(11, attrsB);
const updown = meter.createUpDownCounter('e2e.inflight', {
  description: 'requests in flight', unit: '{request}', valueType: ValueType.INT,
});
updown.add(10, attrsA);
updown.add(-3, attrsA);
updown.add(-4, attrsB);
const histogram = meter.createHistogram('e2e.latency', {
  description: 'latency', unit: 'ms', valueType: ValueType.DOUBLE,
  advice: { explicitBucketBoundaries: [1, 5, 10, 50] },
});
for (const v of [0.5, 3, 3.5, 7, 42, 99.25]) histogram.record(v, attrsA);
histogram.record(12, attrsB);
const gauge = meter.createObservableGauge('e2e.temperature', {
  description: 'temperature', unit: 'Cel', valueType: ValueType.DOUBLE,
});
gauge.addCallback((r) => {
  r.observe(21.5, attrsA);
  r.observe(-3.75, attrsB);
});

// ---------------------------------------------------------------------------------------------
// OTLP/JSON descriptions of the SDK objects handed to export().

const describe = {
  traces: (spans) => spans.map((s) => ({
    resource: otlpResource(s.resource), scope: otlpScope(s.instrumentationScope), span: otlpSpan(s),
  })),
  logs: (logs) => logs.map((l) => ({
    resource: otlpResource(l.resource), scope: otlpScope(l.instrumentationScope), log: otlpLog(l),
  })),
  metrics: (rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => ({
    resource: otlpResource(rm.resource), scope: otlpScope(sm.scope), metric: otlpMetric(m),
  }))),
};

function ns(t) { return (BigInt(t[0]) * 1000000000n + BigInt(t[1])).toString(); }

function anyValue(v) {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  if (v && typeof v === 'object') return { kvlistValue: { values: keyValues(v) } };
  return {};
}
function keyValues(attrs) {
  return Object.keys(attrs ?? {}).map((key) => ({ key, value: anyValue(attrs[key]) }));
}
function otlpResource(r) { return { attributes: keyValues(r.attributes) }; }
function otlpScope(s) {
  const out = { name: s.name };
  if (s.version) out.version = s.version;
  return out;
}
function spanFlags(traceFlags, isRemote) { return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0); }

function otlpSpan(s) {
  const c = s.spanContext();
  const out = {
    traceId: c.traceId, spanId: c.spanId, name: s.name, kind: s.kind + 1,
    startTimeUnixNano: ns(s.startTime), endTimeUnixNano: ns(s.endTime),
    attributes: keyValues(s.attributes),
    events: s.events.map((e) => ({ name: e.name, timeUnixNano: ns(e.time), attributes: keyValues(e.attributes) })),
    links: s.links.map((l) => ({
      traceId: l.context.traceId, spanId: l.context.spanId, attributes: keyValues(l.attributes),
      flags: spanFlags(l.context.traceFlags, l.context.isRemote),
    })),
    status: {},
    flags: spanFlags(c.traceFlags, s.parentSpanContext?.isRemote),
  };
  if (s.parentSpanContext?.spanId) out.parentSpanId = s.parentSpanContext.spanId;
  if (s.status.code) out.status.code = s.status.code;
  if (s.status.message) out.status.message = s.status.message;
  return out;
}

function otlpLog(l) {
  const out = {
    timeUnixNano: ns(l.hrTime), observedTimeUnixNano: ns(l.hrTimeObserved),
    severityNumber: l.severityNumber, severityText: l.severityText, body: anyValue(l.body),
    attributes: keyValues(l.attributes),
  };
  if (l.eventName) out.eventName = l.eventName;
  if (l.spanContext) {
    out.traceId = l.spanContext.traceId;
    out.spanId = l.spanContext.spanId;
    out.flags = l.spanContext.traceFlags;
  }
  return out;
}

function temporality(t) { return t === AggregationTemporality.DELTA ? 1 : 2; }
function otlpMetric(m) {
  const d = m.descriptor;
  const out = { name: d.name, description: d.description, unit: d.unit };
  const isInt = d.valueType === ValueType.INT;
  const base = (p) => ({
    attributes: keyValues(p.attributes), startTimeUnixNano: ns(p.startTime), timeUnixNano: ns(p.endTime),
  });
  const number = (p) => ({ ...base(p), ...(isInt ? { asInt: String(p.value) } : { asDouble: p.value }) });
  switch (m.dataPointType) {
    case DataPointType.SUM:
      out.sum = {
        dataPoints: m.dataPoints.map(number),
        aggregationTemporality: temporality(m.aggregationTemporality), isMonotonic: m.isMonotonic,
      };
      break;
    case DataPointType.GAUGE:
      out.gauge = { dataPoints: m.dataPoints.map(number) };
      break;
    case DataPointType.HISTOGRAM:
      out.histogram = {
        dataPoints: m.dataPoints.map((p) => ({
          ...base(p), count: String(p.value.count), sum: p.value.sum,
          bucketCounts: p.value.buckets.counts.map(String), explicitBounds: p.value.buckets.boundaries,
          min: p.value.min, max: p.value.max,
        })),
        aggregationTemporality: temporality(m.aggregationTemporality),
      };
      break;
    default:
      throw new Error(`unexpected data point type ${m.dataPointType}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Flush and shut down, then print exactly what was exported.

async function settle(label, fn) {
  try {
    await fn();
  } catch (e) {
    process.stderr.write(`send.mjs: ${label}: ${e?.message ?? e}\n`);
  }
}
await settle('traces forceFlush', () => tracerProvider.forceFlush());
await settle('logs forceFlush', () => loggerProvider.forceFlush());
await settle('metrics forceFlush', () => meterProvider.forceFlush());
await settle('traces shutdown', () => tracerProvider.shutdown());
await settle('logs shutdown', () => loggerProvider.shutdown());
await settle('metrics shutdown', () => meterProvider.shutdown());

const summary = {
  transport: args.transport, runId: args.runId, endpoint: args.endpoint,
  compression: args.compression, count: args.count,
  expectFailure: args.expectFailure, ok: false, exports,
  traces: exported.traces, logs: exported.logs, metrics: exported.metrics,
};

const calls = [...exports.traces, ...exports.logs, ...exports.metrics];
const everySignalExported = Object.values(exports).every((e) => e.length > 0);
const allOk = everySignalExported && calls.every((c) => c.code === 'SUCCESS');
const allFailed = everySignalExported && calls.every((c) => c.code === 'FAILED');
summary.ok = args.expectFailure ? allFailed : allOk;
for (const [signal, list] of Object.entries(exports)) {
  for (const c of list) {
    process.stderr.write(`send.mjs: ${args.transport} ${signal}: ${c.items} item(s) -> ${c.code}` +
      `${c.error ? ` (${c.error})` : ''}\n`);
  }
  if (list.length === 0) process.stderr.write(`send.mjs: ${args.transport} ${signal}: no export\n`);
}
// A pipe takes large writes in pieces: exit only once the whole summary is out.
process.stdout.write(`${JSON.stringify(summary)}\n`, () => {
  clearTimeout(watchdog);
  process.exit(summary.ok ? 0 : 1);
});
