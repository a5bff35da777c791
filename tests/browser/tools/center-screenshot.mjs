// Takes the README's screenshot of the notification center: the demo storefront signed in as
// `alice`, the panel open, fed by the simulator. Not part of the test suite (tests/browser runs
// only its top-level scripts).
// Usage, with `cargo xtask dev` running (simulator on):
//   node tests/browser/tools/center-screenshot.mjs [storefront URL] [output PNG] [seconds of traffic]
import { launch } from '../lib/harness.mjs';

const [base = 'http://127.0.0.1:8080', out = 'docs/center.png', wait = '20'] = process.argv.slice(2);
const { context, close } = await launch({ viewport: { width: 1200, height: 820 } });
try {
  const page = await context.newPage();
  await page.goto(`${base}/?user=alice`);
  const bell = page.locator('button.tidings-bell');
  await bell.waitFor({ timeout: 30000 });
  console.log(`waiting ${wait} s for the simulator's notifications…`);
  await page.waitForTimeout(Number(wait) * 1000);
  await bell.click();
  await page.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 15000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: out });
  console.log(`screenshot: ${out} (${await bell.getAttribute('aria-label')})`);
} finally {
  await close();
}
