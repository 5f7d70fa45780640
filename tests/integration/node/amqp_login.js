// amqplib (npm) logging in: PLAIN (amqplib's default) and AMQPLAIN, with the right and a
// wrong password, then a publish to amq.topic on a key the user may write and one it may
// not. Prints one JSON object with what the client saw; the Python test decides.
'use strict';
const amqp = require('amqplib');

const [port, user, password] = process.argv.slice(2);
const result = {};

async function login(name, credentials) {
  try {
    const connection = await amqp.connect(`amqp://localhost:${port}`, { credentials });
    await connection.close();
    result[name] = 'ok';
  } catch (e) {
    result[name] = String(e.message);
  }
}

async function publish(key) {
  const connection = await amqp.connect(`amqp://${user}:${password}@localhost:${port}`);
  const channel = await connection.createConfirmChannel();
  let closed = null;
  channel.on('error', (e) => { closed = e.code; });
  try {
    await new Promise((resolve, reject) => {
      channel.publish('amq.topic', key, Buffer.from('x'), {}, (err) => (err ? reject(err) : resolve()));
    });
    result[key] = 'confirmed';
  } catch (e) {
    result[key] = closed || String(e.message);
  }
  await connection.close().catch(() => {});
}

(async () => {
  await login('plain', amqp.credentials.plain(user, password));
  await login('plainWrong', amqp.credentials.plain(user, password + 'x'));
  await login('amqplain', amqp.credentials.amqplain(user, password));
  await login('amqplainWrong', amqp.credentials.amqplain(user, 'wrong'));
  await publish('sensors.node.temp');
  await publish('cmd.node');
  console.log(JSON.stringify(result));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
