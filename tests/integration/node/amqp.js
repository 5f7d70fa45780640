// amqplib (npm) against the broker's AMQP listener: the everyday producer / consumer on a
// durable queue, a confirm channel with persistent messages, prefetch, nack with requeue,
// a topic exchange binding, and a channel error that closes only its channel. Prints one
// JSON object with what the clients saw; the Python test decides.
'use strict';
const amqp = require('amqplib');

const port = process.argv[2];
const url = `amqp://localhost:${port}`;
const result = {};

function timeout(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());
}

// The producer as services usually write it: connect, a channel, a durable queue, one
// JSON message, close.
async function produce(event) {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  await channel.assertQueue('orders', { durable: true });
  channel.sendToQueue('orders', Buffer.from(JSON.stringify(event)));
  await channel.close();
  await connection.close();
}

// The consumer: the same queue, each message parsed and acknowledged.
async function consumeOrders(n) {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  await channel.assertQueue('orders', { durable: true });
  const got = [];
  await new Promise((resolve, reject) => {
    channel.consume('orders', (msg) => {
      if (msg === null) {
        reject(new Error('consumer cancelled'));
        return;
      }
      got.push({ event: JSON.parse(msg.content.toString()), redelivered: msg.fields.redelivered });
      channel.ack(msg);
      if (got.length === n) resolve();
    });
  });
  await channel.close();
  await connection.close();
  return got;
}

// Persistent messages on a confirm channel; every publish waits for its basic.ack.
async function confirms(connection) {
  const ch = await connection.createConfirmChannel();
  await ch.assertQueue('confirmed', { durable: true });
  await ch.purgeQueue('confirmed');
  const acked = [];
  const pending = [];
  for (let i = 0; i < 50; i++) {
    pending.push(new Promise((resolve, reject) => {
      ch.sendToQueue('confirmed', Buffer.from(`c${i}`), { persistent: true }, (err) => {
        if (err) reject(err);
        else {
          acked.push(i);
          resolve();
        }
      });
    }));
  }
  await Promise.all(pending);
  await ch.waitForConfirms();
  const q = await ch.checkQueue('confirmed');
  const first = await ch.get('confirmed', { noAck: true });
  await ch.close();
  return {
    acked: acked.length, inOrder: acked.every((v, i) => v === i), queued: q.messageCount,
    firstBody: first ? first.content.toString() : null,
    firstPersistent: first ? first.properties.deliveryMode : null,
  };
}

// prefetch(3) with no acks: exactly three deliveries arrive; acking one lets one more in.
async function prefetch(connection) {
  const ch = await connection.createChannel();
  await ch.assertQueue('prefetched', { durable: false, autoDelete: false });
  await ch.purgeQueue('prefetched');
  for (let i = 0; i < 10; i++) ch.sendToQueue('prefetched', Buffer.from(`p${i}`));
  await ch.prefetch(3);
  const got = [];
  let notify = null;
  await ch.consume('prefetched', (msg) => {
    got.push(msg);
    if (notify) notify();
  });
  const waitFor = (n) => new Promise((resolve) => {
    const check = () => { if (got.length >= n) resolve(); };
    notify = check;
    check();
  });
  await Promise.race([waitFor(3), timeout(3000, 'first three deliveries')]);
  // Nothing more may come while three are unacknowledged; a round trip proves the
  // broker has seen everything sent so far.
  await ch.checkQueue('prefetched');
  await new Promise((r) => setTimeout(r, 200));
  const beforeAck = got.length;
  ch.ack(got[0]);
  await Promise.race([waitFor(4), timeout(3000, 'delivery after an ack')]);
  await new Promise((r) => setTimeout(r, 200));
  const afterAck = got.length;
  const bodies = got.map((m) => m.content.toString());
  await ch.close();
  return { beforeAck, afterAck, bodies };
}

// nack with requeue: the message comes back, marked redelivered; then acked.
async function nackRequeue(connection) {
  const ch = await connection.createChannel();
  await ch.assertQueue('retry', { durable: false });
  await ch.purgeQueue('retry');
  ch.sendToQueue('retry', Buffer.from('again'));
  const seen = [];
  await Promise.race([new Promise((resolve) => {
    ch.consume('retry', (msg) => {
      seen.push({ body: msg.content.toString(), redelivered: msg.fields.redelivered });
      if (seen.length === 1) ch.nack(msg, false, true);
      else {
        ch.ack(msg);
        resolve();
      }
    });
  }), timeout(3000, 'redelivery after nack')]);
  const q = await ch.checkQueue('retry');
  await ch.close();
  return { seen, left: q.messageCount };
}

// A topic exchange: the binding 'sensor.*.temp' takes sensor.kitchen.temp, not
// sensor.kitchen.humidity nor sensor.a.b.temp.
async function topic(connection) {
  const ch = await connection.createChannel();
  await ch.assertExchange('readings', 'topic', { durable: false });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, 'readings', 'sensor.*.temp');
  const got = [];
  const done = new Promise((resolve) => {
    ch.consume(queue, (msg) => {
      got.push({ key: msg.fields.routingKey, exchange: msg.fields.exchange, body: msg.content.toString() });
      if (msg.content.toString() === 'last') resolve();
    }, { noAck: true });
  });
  ch.publish('readings', 'sensor.kitchen.humidity', Buffer.from('no'));
  ch.publish('readings', 'sensor.a.b.temp', Buffer.from('no'));
  ch.publish('readings', 'sensor.kitchen.temp', Buffer.from('21.5'));
  ch.publish('readings', 'sensor.hall.temp', Buffer.from('last'));
  await Promise.race([done, timeout(3000, 'topic deliveries')]);
  await ch.close();
  return { queueNamed: queue.length > 0, got };
}

// checkQueue on a missing queue: 404 closes that channel; the connection and its other
// channel go on working.
async function channelError(connection) {
  const bystander = await connection.createChannel();
  const doomed = await connection.createChannel();
  let channelClosed = false;
  doomed.on('error', () => {});
  doomed.on('close', () => { channelClosed = true; });
  let code = null;
  let message = null;
  try {
    await doomed.checkQueue('no-such-queue');
  } catch (e) {
    code = e.code;
    message = e.message;
  }
  await new Promise((r) => setImmediate(r));
  // Still usable: a declare and a round trip of one message on the other channel.
  const { queue } = await bystander.assertQueue('', { exclusive: true });
  bystander.sendToQueue(queue, Buffer.from('still here'));
  let body = null;
  for (let i = 0; i < 50 && body === null; i++) {
    const m = await bystander.get(queue, { noAck: true });
    if (m) body = m.content.toString();
    else await new Promise((r) => setTimeout(r, 20));
  }
  await bystander.close();
  return { code, message, channelClosed, bystanderBody: body };
}

async function main() {
  const events = [{ id: 1, item: 'tea' }, { id: 2, item: 'cups', qty: 6 }];
  for (const e of events) await produce(e);
  result.orders = await Promise.race([consumeOrders(events.length), timeout(5000, 'orders')]);

  const connection = await amqp.connect(url);
  let connectionError = null;
  connection.on('error', (e) => { connectionError = e.message; });
  result.confirms = await confirms(connection);
  result.prefetch = await prefetch(connection);
  result.nack = await nackRequeue(connection);
  result.topic = await topic(connection);
  result.channelError = await channelError(connection);
  result.connectionError = connectionError;
  await connection.close();
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
