// MQTT.js 5 against the broker: properties, topic aliases both ways, subscription
// identifiers, no local, and a 3.1.1 client on the same topic. Prints one JSON object
// with what each client saw; the Python test decides.
'use strict';
const mqtt = require('mqtt');

const url = `mqtt://127.0.0.1:${process.argv[2]}`;
const result = {};

function connect(opts) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', (connack) => resolve([c, connack]));
    c.once('error', reject);
  });
}

function collect(client, n, into) {
  return new Promise((resolve) => {
    client.on('message', (topic, payload, packet) => {
      into.push({ topic, payload: payload.toString(), qos: packet.qos, properties: packet.properties || null });
      if (into.length === n) resolve();
    });
  });
}

async function main() {
  const [sub, connack] = await connect({
    protocolVersion: 5, clientId: 'node-sub',
    properties: { topicAliasMaximum: 5, receiveMaximum: 10 },
  });
  result.connack = connack.properties;
  const [old] = await connect({ protocolVersion: 4, clientId: 'node-old' });
  const [pub] = await connect({ protocolVersion: 5, clientId: 'node-pub', autoUseTopicAlias: true });

  const got = [];
  const gotOld = [];
  const done = Promise.all([collect(sub, 3, got), collect(old, 4, gotOld)]);
  await sub.subscribeAsync('node/+/t', { qos: 1, properties: { subscriptionIdentifier: 42 } });
  await sub.subscribeAsync('node/self', { qos: 1, nl: true });
  await old.subscribeAsync('node/#', { qos: 1 });

  const props = {
    userProperties: { z: 'last', a: ['one', 'two'] },
    contentType: 'application/json',
    responseTopic: 'node/reply',
    correlationData: Buffer.from('corr-1'),
    messageExpiryInterval: 120,
    payloadFormatIndicator: true,
  };
  // The same topic three times: the publisher uses a topic alias after the first.
  for (let i = 0; i < 3; i++) {
    await pub.publishAsync('node/a/t', JSON.stringify({ i }), { qos: 1, properties: props });
  }
  // No local: the subscriber's own message on node/self never comes back to it.
  await sub.publishAsync('node/self', 'mine', { qos: 1 });
  await done;
  await new Promise((r) => setTimeout(r, 300));
  result.sub = got;
  result.old = gotOld;
  await Promise.all([sub.endAsync(), old.endAsync(), pub.endAsync()]);
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
