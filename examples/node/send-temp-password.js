// Mail a user a temporary password, as in the write-up this project started from: an app
// whose user forgot their password sends a fresh one with aws-sdk v2's SES sendEmail.
// It runs unchanged against Amazon SES; against Postroom, config/awsconfig.json also holds
// "endpoint" (see config/awsconfig.example.json and ../README.md).
//
// usage: MAIL_FROM=no-reply@myapp.example node send-temp-password.js user@example.com
//
// MAIL_FROM must be a verified identity of the account. Prints the MessageId; on an error
// prints "Code: message" on stderr and exits with status 1.
'use strict';

const crypto = require('crypto');
const path = require('path');
const AWS = require('aws-sdk');

// No 0/O, 1/l/I: people type temporary passwords in by hand.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function temporaryPassword(length = 12) {
  let password = '';
  for (let i = 0; i < length; i += 1) {
    password += ALPHABET[crypto.randomInt(ALPHABET.length)];
  }
  return password;
}

function passwordResetEmail(source, recipient, password) {
  const text = [
    '안녕하세요.',
    `요청하신 임시 비밀번호는 ${password} 입니다.`,
    '로그인한 뒤 반드시 비밀번호를 변경해 주세요.',
    '비밀번호 재설정을 요청하지 않으셨다면 이 메일을 무시하세요.',
  ].join('\n');
  const html = [
    '<h1>임시 비밀번호 안내</h1>',
    '<p>안녕하세요.</p>',
    `<p>요청하신 임시 비밀번호는 <strong><code>${password}</code></strong> 입니다.</p>`,
    '<p>로그인한 뒤 반드시 비밀번호를 변경해 주세요.</p>',
    '<p>비밀번호 재설정을 요청하지 않으셨다면 이 메일을 무시하세요.</p>',
  ].join('\n');
  return {
    Source: source,
    Destination: { ToAddresses: [recipient] },
    Message: {
      Subject: { Charset: 'UTF-8', Data: '임시 비밀번호 안내' },
      Body: {
        Text: { Charset: 'UTF-8', Data: text },
        Html: { Charset: 'UTF-8', Data: html },
      },
    },
  };
}

async function main() {
  const recipient = process.argv[2];
  const source = process.env.MAIL_FROM;
  if (!recipient || !source) {
    console.error('usage: MAIL_FROM=sender@example.com node send-temp-password.js user@example.com');
    process.exitCode = 2;
    return;
  }
  // accessKeyId, secretAccessKey, region and Postroom's endpoint.
  AWS.config.loadFromPath(path.join(__dirname, 'config', 'awsconfig.json'));
  const ses = new AWS.SES({ apiVersion: '2010-12-01' });

  // A real app stores a hash of the password (and an expiry) before mailing it.
  const password = temporaryPassword();
  try {
    const data = await ses.sendEmail(passwordResetEmail(source, recipient, password)).promise();
    console.log(data.MessageId);
  } catch (err) {
    console.error(`${err.code}: ${err.message}`);
    process.exitCode = 1;
  }
}

main();
