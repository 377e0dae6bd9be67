// Headless-browser test of the Ferrite web console (run by tests/console_browser.rs):
//   node tests/console/console_test.js <admin_url> <resp_host:port>
// Loads the console in Debian's chromium through playwright-core, checks the page and the cache
// table, drives RESP traffic and waits for the counters and the operations chart to change,
// subscribes the topic tail, publishes over RESP and through the form, and waits for both
// messages to appear with their sequence numbers. Exits 0 on success, 1 with a reason otherwise.
'use strict';

const net = require('net');
const { chromium } = require('playwright-core');

const [adminUrl, respAddr] = process.argv.slice(2);
if (!adminUrl || !respAddr) {
  console.error('usage: console_test.js <admin_url> <resp_host:port>');
  process.exit(2);
}
const TIMEOUT = 20000;

// ---- a tiny RESP client (one connection, one command at a time) ----
function parseReply(buf, pos) {
  const end = buf.indexOf('\r\n', pos);
  if (end < 0) return null;
  const type = buf[pos], line = buf.toString('utf8', pos + 1, end);
  const next = end + 2;
  switch (String.fromCharCode(type)) {
    case '+': return { value: line, next };
    case '-': return { value: new Error(line), next };
    case ':': return { value: Number(line), next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString('utf8', next, next + len), next: next + len + 2 };
    }
    case '*': {
      const n = Number(line), items = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r.value);
        p = r.next;
      }
      return { value: items, next: p };
    }
    default: throw new Error('bad RESP reply type ' + String.fromCharCode(type));
  }
}

class Resp {
  constructor(addr) {
    const i = addr.lastIndexOf(':');
    this.sock = net.connect(Number(addr.slice(i + 1)), addr.slice(0, i));
    this.buf = Buffer.alloc(0);
    this.waiting = null;
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.pump();
    });
  }
  pump() {
    if (!this.waiting) return;
    const r = parseReply(this.buf, 0);
    if (!r) return;
    this.buf = this.buf.subarray(r.next);
    const w = this.waiting;
    this.waiting = null;
    if (r.value instanceof Error) w.reject(r.value); else w.resolve(r.value);
  }
  cmd(...args) {
    let out = '*' + args.length + '\r\n';
    for (const a of args) out += '$' + Buffer.byteLength(String(a)) + '\r\n' + a + '\r\n';
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.sock.write(out);
      this.pump();
    });
  }
  close() { this.sock.destroy(); }
}

async function until(what, fn) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const resp = new Resp(respAddr);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Tests run as root in CI, where chromium's sandbox cannot start.
    args: ['--no-sandbox'],
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console error: ' + m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) errors.push('HTTP ' + r.status() + ' for ' + r.url()); });
    page.on('requestfailed', (r) => {
      // EventSource streams are aborted when the page closes; anything else is a failure.
      if (!r.url().includes('/events')) errors.push('request failed: ' + r.url());
    });

    await page.goto(adminUrl, { waitUntil: 'load' });
    if ((await page.title()) !== 'Ferrite console') throw new Error('unexpected title ' + (await page.title()));
    await until('the first /stats poll', async () => (await page.textContent('#status')) === 'up');
    await until('the default cache row', async () => (await page.$('#caches tr[data-cache="default"]')) !== null);
    console.log('page loaded, caches listed');

    // ---- charts and counters update with traffic ----
    const before = await page.textContent('#total-requests');
    const chartBefore = await page.$eval('#chart-ops', (c) => c.toDataURL());
    for (let i = 0; i < 50; i++) await resp.cmd('SET', 'browser-key-' + i, 'v');
    await until('the request counter to change', async () => (await page.textContent('#total-requests')) !== before);
    await until('the operations chart to redraw', async () =>
      (await page.$eval('#chart-ops', (c) => c.toDataURL())) !== chartBefore);
    await until('the keys card to count the new keys', async () =>
      Number(await page.textContent('#keys')) >= 50);
    console.log('counters and charts updated');

    // ---- topic tail over SSE ----
    const topic = 'browser-news';
    await page.fill('#tail-cache', 'default');
    await page.fill('#tail-topic', topic);
    await page.click('#tail-start');
    await until('the tail to subscribe', async () =>
      ((await page.textContent('#tail-status')) || '').startsWith('subscribed'));
    await until('the server to see the subscriber', async () => {
      const r = await resp.cmd('PUBSUB', 'NUMSUB', topic);
      return r[1] === 1;
    });
    const receivers = await resp.cmd('PUBLISH', topic, 'hello from RESP');
    if (receivers !== 1) throw new Error('PUBLISH reached ' + receivers + ' receivers');
    const first = await page.waitForSelector('#tail-messages li[data-seq="1"]', { timeout: TIMEOUT });
    const firstText = await first.textContent();
    if (firstText !== '#1hello from RESP') throw new Error('tail item 1 reads ' + JSON.stringify(firstText));
    console.log('RESP publish appeared in the tail as #1');

    // ---- publish through the form ----
    await page.fill('#pub-cache', 'default');
    await page.fill('#pub-topic', topic);
    await page.fill('#pub-message', 'hello from the form');
    await page.click('#pub-send');
    const second = await page.waitForSelector('#tail-messages li[data-seq="2"]', { timeout: TIMEOUT });
    const secondText = await second.textContent();
    if (secondText !== '#2hello from the form') throw new Error('tail item 2 reads ' + JSON.stringify(secondText));
    await until('the publish result', async () =>
      ((await page.textContent('#pub-result')) || '').includes('published as #2'));
    console.log('form publish appeared in the tail as #2');

    if (errors.length) throw new Error(errors.join('; '));
  } finally {
    await browser.close();
    resp.close();
  }
}

main().then(() => {
  console.log('OK');
  process.exit(0);
}, (e) => {
  console.error('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
