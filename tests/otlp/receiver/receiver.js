// OTLP receiver for otelc's interop test (tests/otlp/run_interop.sh). It serves
//   - OTLP/gRPC on @grpc/grpc-js, in plaintext and (with --tls-cert/--tls-key) over TLS,
//   - OTLP/HTTP (protobuf and JSON, gzip or not) on node's http module,
// decodes protobuf with the generated code @opentelemetry/otlp-transformer ships, and keeps a
// canonical summary of every request (hex ids, decimal strings for 64-bit integers, typed
// attribute values) so the test can compare what arrived with what was sent.
// Control (on the HTTP port): GET /_records returns and clears the records; POST /_faults sets
// faults for the next requests: {"http503": n, "http429": n, "retryAfter": "1", "grpcUnavailable": n,
// "slowMs": ms, "reset": n}. Prints {"http":port,"grpc":port,"grpcTls":port} once listening.
'use strict';

const http = require('http');
const zlib = require('zlib');
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const v1 = root.opentelemetry.proto.collector.trace.v1;
const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

let records = [];
let faults = {};

// ---------------------------------------------------------------------------------------------
// Canonical form, shared by the protobuf and JSON paths.

const hex = (b) => Buffer.from(b || []).toString('hex');
const dec = (v) => (v === undefined || v === null ? '0' : v.toString());

function anyFromProto(v) {
  if (!v) return {};
  if (v.stringValue !== undefined && v.stringValue !== null) return { string: v.stringValue };
  if (v.boolValue !== undefined && v.boolValue !== null) return { bool: v.boolValue };
  if (v.intValue !== undefined && v.intValue !== null) return { int: dec(v.intValue) };
  if (v.doubleValue !== undefined && v.doubleValue !== null) return { double: v.doubleValue };
  if (v.bytesValue !== undefined && v.bytesValue !== null) return { bytes: hex(v.bytesValue) };
  if (v.arrayValue) return { array: (v.arrayValue.values || []).map(anyFromProto) };
  return {};
}

function anyFromJson(v) {
  if (!v) return {};
  if ('stringValue' in v) return { string: v.stringValue };
  if ('boolValue' in v) return { bool: v.boolValue };
  if ('intValue' in v) return { int: String(v.intValue) };
  if ('doubleValue' in v) {
    const d = v.doubleValue;
    return { double: typeof d === 'string' ? Number(d) : d };
  }
  if ('bytesValue' in v) return { bytes: Buffer.from(v.bytesValue, 'base64').toString('hex') };
  if ('arrayValue' in v) return { array: ((v.arrayValue || {}).values || []).map(anyFromJson) };
  return {};
}

function canonical(req, json) {
  const any = json ? anyFromJson : anyFromProto;
  const id = json ? (x) => (x || '').toLowerCase() : hex;
  const num = (x) => (x === undefined || x === null ? 0 : Number(x));
  const attrs = (list) => (list || []).map((kv) => [kv.key, any(kv.value)]);
  return (req.resourceSpans || []).map((rs) => ({
    resource: { attributes: attrs((rs.resource || {}).attributes), schemaUrl: rs.schemaUrl || '' },
    scopes: (rs.scopeSpans || []).map((ss) => ({
      scope: {
        name: (ss.scope || {}).name || '',
        version: (ss.scope || {}).version || '',
        attributes: attrs((ss.scope || {}).attributes),
      },
      schemaUrl: ss.schemaUrl || '',
      spans: (ss.spans || []).map((s) => ({
        traceId: id(s.traceId),
        spanId: id(s.spanId),
        parentSpanId: id(s.parentSpanId),
        traceState: s.traceState || '',
        flags: num(s.flags),
        name: s.name || '',
        kind: num(s.kind),
        start: dec(s.startTimeUnixNano),
        end: dec(s.endTimeUnixNano),
        attributes: attrs(s.attributes),
        droppedAttributes: num(s.droppedAttributesCount),
        events: (s.events || []).map((e) => ({
          time: dec(e.timeUnixNano),
          name: e.name || '',
          attributes: attrs(e.attributes),
          droppedAttributes: num(e.droppedAttributesCount),
        })),
        droppedEvents: num(s.droppedEventsCount),
        links: (s.links || []).map((l) => ({
          traceId: id(l.traceId),
          spanId: id(l.spanId),
          traceState: l.traceState || '',
          attributes: attrs(l.attributes),
          droppedAttributes: num(l.droppedAttributesCount),
          flags: num(l.flags),
        })),
        droppedLinks: num(s.droppedLinksCount),
        status: { code: num((s.status || {}).code), message: (s.status || {}).message || '' },
      })),
    })),
  }));
}

function decodeProto(buf) {
  const msg = v1.ExportTraceServiceRequest.decode(buf);
  const obj = v1.ExportTraceServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: Array, defaults: false });
  return canonical(obj, false);
}

function take(name) {
  if (faults[name] > 0) {
    faults[name]--;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// HTTP

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    if (req.url === '/_records') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(records));
      records = [];
      return;
    }
    if (req.url === '/_faults') {
      faults = JSON.parse(body.toString() || '{}');
      res.writeHead(200);
      res.end('{}');
      return;
    }
    const answer = () => {
      if (take('reset')) {
        records.push({ protocol: 'http', reset: true });
        req.socket.resetAndDestroy ? req.socket.resetAndDestroy() : req.socket.destroy();
        return;
      }
      if (take('http503')) {
        records.push({ protocol: 'http', refused: 503 });
        res.writeHead(503);
        res.end();
        return;
      }
      if (take('http429')) {
        records.push({ protocol: 'http', refused: 429 });
        res.writeHead(429, { 'Retry-After': faults.retryAfter || '1' });
        res.end();
        return;
      }
      const rec = {
        protocol: 'http',
        path: req.url,
        contentType: req.headers['content-type'],
        contentEncoding: req.headers['content-encoding'] || '',
        userAgent: req.headers['user-agent'],
        apiKey: req.headers['x-api-key'] || '',
      };
      try {
        if (rec.contentEncoding === 'gzip') body = zlib.gunzipSync(body);
        const json = rec.contentType === 'application/json';
        rec.batch = json ? canonical(JSON.parse(body.toString('utf8')), true) : decodeProto(body);
      } catch (e) {
        rec.error = String(e);
        records.push(rec);
        res.writeHead(400);
        res.end();
        return;
      }
      rec.accepted = true;
      records.push(rec);
      if (rec.contentType === 'application/json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
        res.end(Buffer.from(v1.ExportTraceServiceResponse.encode({}).finish()));
      }
    };
    const slow = faults.slowMs;
    if (slow) {
      faults.slowMs = 0;
      setTimeout(answer, slow);
    } else {
      answer();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// gRPC

const service = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b,
    responseSerialize: (b) => b,
    responseDeserialize: (b) => b,
  },
};

function exportHandler(tls) {
  return (call, callback) => {
    if (take('grpcUnavailable')) {
      records.push({ protocol: 'grpc', refused: 'UNAVAILABLE' });
      callback({ code: grpc.status.UNAVAILABLE, details: 'try again' });
      return;
    }
    const md = call.metadata.getMap();
    const rec = {
      protocol: tls ? 'grpc+tls' : 'grpc',
      userAgent: String(md['user-agent'] || ''),
      apiKey: String(md['x-api-key'] || ''),
      // grpc-js decompresses and drops grpc-encoding before the handler runs: the test checks
      // gzip through the request size otlp_send reports.
    };
    try {
      rec.batch = decodeProto(call.request);
    } catch (e) {
      rec.error = String(e);
      records.push(rec);
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'cannot decode' });
      return;
    }
    rec.accepted = true;
    records.push(rec);
    callback(null, Buffer.from(v1.ExportTraceServiceResponse.encode({}).finish()));
  };
}

function startGrpc(creds, tls) {
  return new Promise((resolve, reject) => {
    const s = new grpc.Server();
    s.addService(service, { Export: exportHandler(tls) });
    s.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

(async () => {
  const ports = {};
  await new Promise((r) => server.listen(Number(args['http-port'] || 0), '127.0.0.1', r));
  ports.http = server.address().port;
  ports.grpc = await startGrpc(grpc.ServerCredentials.createInsecure(), false);
  if (args['tls-cert'] && args['tls-key']) {
    const creds = grpc.ServerCredentials.createSsl(null, [
      { cert_chain: fs.readFileSync(args['tls-cert']), private_key: fs.readFileSync(args['tls-key']) },
    ]);
    ports.grpcTls = await startGrpc(creds, true);
  }
  process.stdout.write(JSON.stringify(ports) + '\n');
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
