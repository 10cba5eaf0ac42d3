// Run one SES v2 command with @aws-sdk/client-sesv2, as an application would, and print the
// outcome as one line of JSON for the contract test:
//   {"output": {...}, "requestId": "..."}
//   or {"error": {"name", "message", "httpStatusCode", "requestId"}}
//
// usage: node v3_sesv2.js REQUEST.json
// REQUEST.json: {"endpoint", "region", "accessKeyId", "secretAccessKey", "command", "input"}
// where "command" names the operation ("GetAccount" runs GetAccountCommand) and "input" is
// its input. Exit status 0 unless the script itself broke.
'use strict';

const fs = require('fs');
const sesv2 = require('@aws-sdk/client-sesv2');
const { clientConfig, printOutcome } = require('./v3_common');

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const Command = sesv2[`${request.command}Command`];
  if (!Command) {
    throw new Error(`no command ${request.command} in @aws-sdk/client-sesv2`);
  }
  const client = new sesv2.SESv2Client(clientConfig(request));
  await printOutcome(client.send(new Command(request.input || {})),
    ({ $metadata, ...output }) => ({ output, requestId: $metadata.requestId }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
