// What the v3 client scripts (v3_send_email.js, v3_sesv2.js) share: the client settings
// from the test's REQUEST.json, and one line of JSON for the outcome of a command.
'use strict';

// {"endpoint", "region", "accessKeyId", "secretAccessKey"} -> a client's configuration.
function clientConfig(request) {
  return {
    endpoint: request.endpoint,
    region: request.region,
    credentials: {
      accessKeyId: request.accessKeyId,
      secretAccessKey: request.secretAccessKey,
    },
    maxAttempts: 1, // errors must surface, not be retried away
  };
}

// shape(output) of the command `sending`, or, for a service error,
// {"error": {"name", "message", "httpStatusCode", "requestId"}}.
async function outcomeOf(sending, shape) {
  try {
    return shape(await sending);
  } catch (err) {
    if (!err.$metadata) {
      throw err; // not a service error: let the test see the stack
    }
    return {
      error: {
        name: err.name,
        message: err.message,
        httpStatusCode: err.$metadata.httpStatusCode,
        requestId: err.$metadata.requestId,
      },
    };
  }
}

// Print outcomeOf(sending, shape) as one line of JSON.
async function printOutcome(sending, shape) {
  console.log(JSON.stringify(await outcomeOf(sending, shape)));
}

module.exports = { clientConfig, outcomeOf, printOutcome };
