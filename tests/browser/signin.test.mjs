// The dashboard of a server with a token (`--http 0.0.0.0:0 --http-token-file`) in headless
// Chromium: the page is a sign-in form and nothing of the dashboard loads before; a wrong
// token is refused; the right one opens the dashboard, whose API calls and event stream
// then work on the session cookie. Usage: node signin.test.mjs URL OUT_DIR TOKEN.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

const [url, outDir, token] = process.argv.slice(2);
if (!url || !outDir || !token) {
  console.error('usage: node signin.test.mjs URL OUT_DIR TOKEN');
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
         '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const served = [];  // [status, url] of every response
  page.on('response', r => served.push([r.status(), r.url()]));

  const first = await page.goto(url);
  check(first.status() === 401, 'GET / without the token is 401 (' + first.status() + ')');
  check(await page.title() === 'Sluice: sign in', 'the page is the sign-in form');
  check(served.every(([, u]) => !u.includes('/dashboard/')), 'nothing of the dashboard was requested');
  const direct = await page.request.get(url + '/dashboard/app.js');
  check(direct.status() === 401, 'the dashboard\'s script needs the token (' + direct.status() + ')');
  await page.screenshot({ path: join(outDir, 'signin-1.png') });

  await page.fill('input[name=token]', 'not-the-token-but-long-enough');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check(await page.title() === 'Sluice: sign in', 'a wrong token gets the form again');
  check(/Wrong token/.test(await page.textContent('#message')), 'the form says the token was wrong');

  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForNavigation({ url: url + '/' }), page.click('button[type=submit]')]);
  check(await page.title() === 'Sluice', 'the right token opens the dashboard');
  await page.waitForSelector('#graph svg g.op[data-operator^="source:"]', { timeout: 20000 });
  check(true, 'the job graph loads through the API with the session');
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.points || 0) > 0, null,
                             { timeout: 20000 });
  check(true, 'the live chart receives rows through the event stream with the session');
  const cookies = await page.context().cookies();
  check(cookies.every(c => !c.value.includes(token)), 'no cookie holds the token');
  await page.screenshot({ path: join(outDir, 'signin-2.png'), fullPage: true });
} catch (e) {
  failed = true;
  console.error(String(e && e.stack || e));
  console.error('responses: ' + JSON.stringify(served.slice(-30)));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
