// Drives the dashboard of a running `sluice run --http` job in headless Chromium
// (playwright-core, Debian's /usr/bin/chromium): the job graph, the watermark panel, the
// DLQ browser and a live chart that must change while the job runs. Screenshots go to
// OUT_DIR. Usage: node dashboard.test.mjs URL OUT_DIR. Exit 1 with the reason on failure.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node dashboard.test.mjs URL OUT_DIR');
  process.exit(2);
}

function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  console.log('ok: ' + what);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],  // playwright gives it a fresh profile directory
});
const errors = [];
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  // Everything the page loads must come from the server itself (no CDN).
  const foreign = [];
  page.on('request', r => { if (!r.url().startsWith(url)) foreign.push(r.url()); });

  await page.goto(url);
  check(await page.title() === 'Sluice', 'the dashboard loads');

  // The job graph: the source, the window aggregate and the sink, with live counts.
  await page.waitForSelector('#graph svg g.op[data-operator^="source:"]', { timeout: 20000 });
  const kinds = await page.$$eval('#graph svg g.op text.kind', ts => ts.map(t => t.textContent));
  check(kinds.some(k => k.startsWith('source clicks')), 'the graph shows the source: ' + kinds.join(' | '));
  check(kinds.some(k => k.startsWith('window_aggregate')), 'the graph shows the window aggregate');
  check(kinds.some(k => k.startsWith('sink')), 'the graph shows the sink');
  check(await page.locator('#graph svg path.edge').count() >= 1, 'the graph has edges');
  await page.waitForFunction(() => {
    const t = [...document.querySelectorAll('#graph svg g.op[data-operator^="source:"] text')].map(e => e.textContent).join(' ');
    return /read [1-9]/.test(t) && /\(\d[\d.]*k?\/s\)/.test(t);
  }, null, { timeout: 20000 });
  check(true, 'the source box shows records read and a rate');

  // Watermarks: both splits with a watermark, and why the open window has not fired.
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#splits tbody tr')];
    return rows.length === 2 && rows.every(r => /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(r.cells[4].textContent));
  }, null, { timeout: 20000 });
  check(true, 'the watermark panel lists both splits with their watermarks');
  await page.waitForSelector('#why p.why-not-fired', { timeout: 20000 });
  const why = await page.textContent('#why');
  check(/fires when the watermark reaches its end/.test(why), 'the panel explains why the window has not fired: ' + why);

  // Checkpoints and the DLQ browser.
  await page.waitForFunction(() => document.querySelectorAll('#checkpoints tbody tr').length > 0, null, { timeout: 20000 });
  check(true, 'the checkpoint history has entries');
  await page.waitForFunction(() => document.querySelectorAll('#dlq tbody tr').length > 0, null, { timeout: 20000 });
  check(true, 'the DLQ browser lists dead letters');

  // The live chart: points arrive by server-sent events and keep changing.
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.points || 0) > 0, null, { timeout: 20000 });
  check(await page.locator('#chart canvas').count() > 0, 'the chart is drawn');
  await page.screenshot({ path: join(outDir, 'dashboard-1.png'), fullPage: true });
  const first = await page.$eval('#chart', c => ({ rows: Number(c.dataset.rows), last: c.dataset.last }));
  await page.waitForFunction(f => {
    const c = document.getElementById('chart');
    return Number(c.dataset.rows) > f.rows + 5 && c.dataset.last !== f.last;
  }, first, { timeout: 20000 });
  const second = await page.$eval('#chart', c => ({ rows: Number(c.dataset.rows), last: c.dataset.last }));
  check(true, `the chart updates live (${first.rows} -> ${second.rows} rows; last point ${first.last} -> ${second.last})`);
  await page.screenshot({ path: join(outDir, 'dashboard-2.png'), fullPage: true });

  check(foreign.length === 0, 'nothing is loaded from another origin ' + foreign.join(' '));
  check(errors.length === 0, 'no script errors in the page ' + errors.join(' | '));
} catch (e) {
  failed = true;
  console.error(String(e && e.stack || e));
  if (errors.length) console.error('page errors: ' + errors.join(' | '));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
