// Run SES v2 commands with @aws-sdk/client-sesv2, as an application would, and print the
// outcome as one line of JSON for the contract test. One command:
//   {"output": {...}, "requestId": "...", "httpStatusCode": 200}
//   or {"error": {"name", "message", "httpStatusCode", "requestId"}}
// A list of commands, run one after the other with one client in one process:
//   {"outcomes": [<one outcome as above>, ...]}
//
// usage: node v3_sesv2.js REQUEST.json
// REQUEST.json: {"endpoint", "region", "accessKeyId", "secretAccessKey"} and either
// {"command", "input"} or {"commands": [{"command", "input"}, ...]}, where "command" names
// the operation ("GetAccount" runs GetAccountCommand) and "input" is its input. JSON has
// no bytes or dates, so in an input {"$base64": "..."} is a blob (Uint8Array) and
// {"$date": "<ISO 8601>"} a Date. Outputs' dates print as ISO 8601 strings.
// Exit status 0 unless the script itself broke.
'use strict';

const fs = require('fs');
const sesv2 = require('@aws-sdk/client-sesv2');
const { clientConfig, outcomeOf } = require('./v3_common');

// An input from JSON: the {"$base64"} and {"$date"} stand-ins become what the SDK takes.
function revive(value) {
  if (Array.isArray(value)) {
    return value.map(revive);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (Object.keys(value).length === 1 && typeof value.$base64 === 'string') {
    return new Uint8Array(Buffer.from(value.$base64, 'base64'));
  }
  if (Object.keys(value).length === 1 && typeof value.$date === 'string') {
    return new Date(value.$date);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
}

function run(client, { command, input }) {
  const Command = sesv2[`${command}Command`];
  if (!Command) {
    throw new Error(`no command ${command} in @aws-sdk/client-sesv2`);
  }
  return outcomeOf(client.send(new Command(revive(input || {}))),
    ({ $metadata, ...output }) => ({
      output, requestId: $metadata.requestId, httpStatusCode: $metadata.httpStatusCode,
    }));
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const client = new sesv2.SESv2Client(clientConfig(request));
  if (!request.commands) {
    console.log(JSON.stringify(await run(client, request)));
    return;
  }
  const outcomes = [];
  for (const step of request.commands) {
    outcomes.push(await run(client, step)); // in order: a step may need the one before
  }
  console.log(JSON.stringify({ outcomes }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
