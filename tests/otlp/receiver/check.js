// Checks the records the receiver kept (GET /_records) for one interop case: how many batches were
// accepted, how they arrived (protocol, content type, compression, metadata) and that each batch
// decodes to exactly tests/otlp/receiver/expected.json. Exit 0 when all holds, 1 otherwise.
// "maxBytes" bounds the request size otlp_send reported (its stdout, the 4th argument): grpc-js
// decompresses before the handler sees the call, so that is how the gRPC gzip cases see gzip.
//   node check.js RECORDS.json EXPECTED.json '{"accepted":1,"protocol":"grpc","maxBytes":800}' SEND.out
'use strict';

const fs = require('fs');
const assert = require('assert');

const records = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const expected = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const want = JSON.parse(process.argv[4] || '{}');

function fail(msg) {
  process.stderr.write('check: ' + msg + '\nrecords: ' + JSON.stringify(records, null, 1) + '\n');
  process.exit(1);
}

if (want.maxBytes !== undefined) {
  const sent = JSON.parse(fs.readFileSync(process.argv[5], 'utf8').trim().split('\n').pop());
  if (!(sent.bytes / Math.max(sent.requests, 1) <= want.maxBytes))
    fail(`expected requests of at most ${want.maxBytes} bytes, otlp_send sent ${JSON.stringify(sent)}`);
}

const accepted = records.filter((r) => r.accepted);
if (accepted.length !== (want.accepted === undefined ? 1 : want.accepted))
  fail(`expected ${want.accepted === undefined ? 1 : want.accepted} accepted batch(es), got ${accepted.length}`);
if (want.refused !== undefined && records.filter((r) => r.refused || r.reset).length !== want.refused)
  fail(`expected ${want.refused} refused request(s)`);
for (const r of records)
  if (r.error) fail('the receiver could not decode a request: ' + r.error);
for (const r of accepted) {
  for (const k of ['protocol', 'contentType', 'contentEncoding', 'apiKey', 'path'])
    if (want[k] !== undefined && r[k] !== want[k]) fail(`${k}: expected ${want[k]}, got ${r[k]}`);
  if (!/^OTel-OTLP-Exporter-C\/\S+ otelc\/\S+/.test(r.userAgent || ''))
    fail('unexpected user agent ' + r.userAgent);
  try {
    assert.deepStrictEqual(r.batch, expected);
  } catch (e) {
    fail('the decoded batch differs from expected.json:\n' + e.message);
  }
}
process.stdout.write(`check: ok (${accepted.length} batch(es))\n`);
