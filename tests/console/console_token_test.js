// Headless-browser test of the web console against a server in auth mode `token` (run by
// tests/console_browser.rs):
//   node tests/console/console_token_test.js <admin_url> <super_user_token>
// The page loads without a token and says the admin API wants one; after the operator pastes a
// super-user token, /stats polls (Authorization: Bearer), the topic tail (EventSource with
// ?token=) and the publish form (Bearer) all work, and the token is kept in sessionStorage only.
// Exits 0 on success, 1 with a reason otherwise.
'use strict';

const { chromium } = require('playwright-core');

const [adminUrl, token] = process.argv.slice(2);
if (!adminUrl || !token) {
  console.error('usage: console_token_test.js <admin_url> <super_user_token>');
  process.exit(2);
}
const TIMEOUT = 20000;

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
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  const errors = [];
  let tokenSet = false;
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    // Before the token is set, the 401s of /stats are expected; after, no request may fail.
    page.on('response', (r) => {
      if (tokenSet && r.status() >= 400) errors.push('HTTP ' + r.status() + ' for ' + r.url());
    });

    await page.goto(adminUrl, { waitUntil: 'load' });
    await until('the status to ask for a token', async () =>
      ((await page.textContent('#status')) || '').includes('paste a super-user token'));
    console.log('without a token the console asks for one');

    tokenSet = true;
    await page.fill('#admin-token', token);
    await page.click('#token-form button');
    await until('the /stats poll with the token', async () => (await page.textContent('#status')) === 'up');
    await until('the default cache row', async () => (await page.$('#caches tr[data-cache="default"]')) !== null);
    const stored = await page.evaluate(() => [sessionStorage.getItem('ferrite-admin-token'), localStorage.length]);
    if (stored[0] !== token || stored[1] !== 0) throw new Error('token storage: ' + JSON.stringify(stored));
    console.log('stats load with the token (kept in sessionStorage only)');

    const topic = 'token-news';
    await page.fill('#tail-cache', 'default');
    await page.fill('#tail-topic', topic);
    await page.click('#tail-start');
    await until('the tail to subscribe', async () =>
      ((await page.textContent('#tail-status')) || '').startsWith('subscribed'));
    await page.fill('#pub-cache', 'default');
    await page.fill('#pub-topic', topic);
    await page.fill('#pub-message', 'hello with a token');
    await page.click('#pub-send');
    const first = await page.waitForSelector('#tail-messages li[data-seq="1"]', { timeout: TIMEOUT });
    const text = await first.textContent();
    if (text !== '#1hello with a token') throw new Error('tail item 1 reads ' + JSON.stringify(text));
    console.log('publish (Bearer) appeared in the tail (EventSource ?token=)');

    if (errors.length) throw new Error(errors.join('; '));
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log('OK');
  process.exit(0);
}, (e) => {
  console.error('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
