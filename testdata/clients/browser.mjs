// Runs page.js, bundled with @openfeature/web-sdk and
// @openfeature/ofrep-web-provider, in headless Chromium on an origin other
// than the Valueloop server's, and reports what the page saw. Driven by
// cmd/valueloop/clients_test.go over stdin/stdout, one JSON object a line:
//
//   -> {"event":"origin","origin":...}      the page's origin, for the client token
//   <- {"token":...,"apiKey":bool,"cases":[...],"context":{...},"poll":ms,
//       "changeDetection":"polling"|"sse"}
//   -> {"event":"ready",...}                after the provider is READY (or failed),
//                                           with the auth headers its requests carried
//   -> {"event":"polled",...}               polling: after two unchanged polls (304)
//   -> {"event":"streaming",...}            sse: after the change stream opened and
//                                           the fetch its first notification triggered
//   -> {"event":"changed",...}              after the provider saw a change
//
// Chromium: CHROMIUM or /usr/bin/chromium; Playwright gives it a temporary
// profile of its own.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const server = process.env.VALUELOOP_URL;
const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const bundle = await build({
  entryPoints: [join(here, 'page.js')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  write: false,
  logLevel: 'error',
});
const js = bundle.outputFiles[0].text;
const http = createServer((req, res) => {
  if (req.url.startsWith('/page.js')) {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    res.end(js);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end('<!doctype html><title>client suite</title><script type="module" src="/page.js"></script>');
});
await new Promise((ok) => http.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${http.address().port}`;
send({ event: 'origin', origin });

const { value: line } = await lines.next();
const setup = JSON.parse(line);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  chromiumSandbox: false,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const bulk = []; // statuses of the bulk evaluations the page made, in order
  const triggered = []; // the queries of those a change notification triggered
  const streams = []; // statuses of the change streams (eventStreams) it opened
  const auth = new Set(); // the auth headers they carried
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.origin !== server) return;
    if (r.request().method() === 'POST' && url.pathname === '/ofrep/v1/evaluate/flags') {
      bulk.push(r.status());
      if (url.search) triggered.push(url.search);
      for (const h of ['authorization', 'x-api-key']) if (r.request().headers()[h]) auth.add(h);
    }
    if (r.request().method() === 'GET' && url.pathname === '/ofrep/v1/stream') streams.push(r.status());
  });
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  const q = new URLSearchParams({
    server,
    token: setup.token,
    apiKey: setup.apiKey ? '1' : '',
    cases: JSON.stringify(setup.cases),
    context: JSON.stringify(setup.context),
    poll: String(setup.poll),
    changeDetection: setup.changeDetection,
  });
  await page.goto(`${origin}/?${q}`);
  await page.waitForFunction(() => window.valueloop && window.valueloop.status !== 'starting', null, { timeout: 30000 });
  const state = () => page.evaluate(() => window.valueloop);
  let s = await state();
  send({ event: 'ready', status: s.status, snapshot: s.snapshots[0], errors: s.errors, bulk: [...bulk], auth: [...auth], logs });
  if (s.status !== 'ready') process.exit(0);

  if (setup.changeDetection === 'sse') {
    for (const deadline = Date.now() + 30000; (streams.length === 0 || triggered.length === 0) && Date.now() < deadline; ) {
      await page.waitForTimeout(100);
    }
    send({ event: 'streaming', streams: [...streams], bulk: [...bulk], triggered: [...triggered] });
  } else {
    const unchanged = () => bulk.filter((x) => x === 304).length;
    for (const deadline = Date.now() + 30000; unchanged() < 2 && Date.now() < deadline; ) await page.waitForTimeout(100);
    send({ event: 'polled', notModified: unchanged(), bulk: [...bulk], streams: [...streams] });
  }

  await page.waitForFunction(() => window.valueloop.snapshots.some((x) => x.why === 'changed'), null, { timeout: 30000 });
  s = await state();
  send({ event: 'changed', snapshot: s.snapshots.find((x) => x.why === 'changed'), errors: s.errors, bulk: [...bulk], triggered: [...triggered] });
} finally {
  await browser.close();
  http.close();
}
