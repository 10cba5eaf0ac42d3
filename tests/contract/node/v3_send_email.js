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

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const client = new SESClient({
    endpoint: request.endpoint,
    region: request.region,
    credentials: {
      accessKeyId: request.accessKeyId,
      secretAccessKey: request.secretAccessKey,
    },
    maxAttempts: 1, // errors must surface, not be retried away
  });
  try {
    const data = await client.send(new SendEmailCommand(request.input));
    console.log(JSON.stringify({ MessageId: data.MessageId }));
  } catch (err) {
    if (!err.$metadata) {
      throw err; // not a service error: let the test see the stack
    }
    console.log(JSON.stringify({
      error: {
        name: err.name,
        message: err.message,
        httpStatusCode: err.$metadata.httpStatusCode,
        requestId: err.$metadata.requestId,
      },
    }));
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
