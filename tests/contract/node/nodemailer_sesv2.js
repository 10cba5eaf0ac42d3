// Send one message with an attachment through Nodemailer's SES transport (the v7+ shape:
// `SES: { sesClient, SendEmailCommand }` over @aws-sdk/client-sesv2, which sends SES v2
// SendEmail with Content.Raw), as an application would, and print the outcome as one line
// of JSON for the contract test:
//   {"messageId": "...", "response": "...", "envelope": {...}}
//   or {"error": {"name", "message", "httpStatusCode", "requestId"}}
//
// usage: node nodemailer_sesv2.js REQUEST.json
// REQUEST.json: {"endpoint", "region", "accessKeyId", "secretAccessKey", "mail"} where
// "mail" is Nodemailer's message ({from, to, subject, text, attachments: [{filename,
// contentBase64, contentType}]}). Exit status 0 unless the script itself broke.
'use strict';

const fs = require('fs');
const nodemailer = require('nodemailer');
const { SESv2Client, SendEmailCommand } = require('@aws-sdk/client-sesv2');
const { clientConfig, printOutcome } = require('./v3_common');

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const sesClient = new SESv2Client(clientConfig(request));
  const transporter = nodemailer.createTransport({ SES: { sesClient, SendEmailCommand } });
  const mail = { ...request.mail };
  mail.attachments = (mail.attachments || []).map(({ contentBase64, ...rest }) => ({
    ...rest,
    content: Buffer.from(contentBase64, 'base64'),
  }));
  await printOutcome(transporter.sendMail(mail),
    (info) => ({ messageId: info.messageId, response: info.response, envelope: info.envelope }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
