// Send one SendEmail with the AWS SDK for JavaScript v3 (@aws-sdk/client-ses), as an
// application would, and print the outcome as one line of JSON for the contract test:
//   {"MessageId": "..."}  or  {"error": {"name", "message", "httpStatusCode", "requestId"}}
//
// usage: node v3_send_email.js REQUEST.json
// REQUEST.json: {"endpoint", "region", "accessKeyId", "secretAccessKey", "input": {...}}
// where "input" is the SendEmailCommand input. Exit status 0 unless the script itself broke.
'use strict';

const fs = require('fs');
const { SESClient, SendEmailCommand } = require('@aws-sdk/client-ses');
const { clientConfig, printOutcome } = require('./v3_common');

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const client = new SESClient(clientConfig(request));
  await printOutcome(client.send(new SendEmailCommand(request.input)),
    (data) => ({ MessageId: data.MessageId }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
