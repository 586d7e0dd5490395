// The README's local loop, as a newcomer runs it: `npm start` with nothing configured (the demo),
// `npx @modelcontextprotocol/inspector` (the version in devDependencies), and MCP Inspector's web
// UI in headless Chromium, driven by clicking as a person would: add the server, Connect, confirm
// on our page, sign in at the demo's identity provider, back in Inspector the tools are listed,
// and a tool is called. Inspector does discovery, registration and the token exchange from its
// own backend; the browser carries the person through our pages.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_ACCOUNT } from '../../src/demo/defaults.js';
import { freePort, freePortRun, waitForPort } from '../helpers/ports.js';
import { baseEnvironment, spawnProcess, stopProcess, type RunningProcess } from '../helpers/processes.js';
import { buildOnce, ROOT } from '../helpers/proxy-process.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SERVER_ID = 'mcp-auth-proxy-demo';

interface Setup {
  title: string;
  /** The demo's command line after `npm start --`. */
  args: string[];
  /** Tools Inspector must list, and the one to call: its name, its text argument, what the result shows. */
  tools: string[];
  call: { tool: string; argument: string; shows: (text: string) => RegExp };
}

const EVERYTHING = fileURLToPath(import.meta.resolve('@modelcontextprotocol/server-everything/dist/index.js'));

const SETUPS: Setup[] = [
  {
    title: 'the demo (README: npm start, then Inspector)',
    args: [],
    tools: ['whoami', 'echo', 'time'],
    call: { tool: 'echo', argument: 'text', shows: (text) => new RegExp(text) },
  },
  {
    // docs/stdio-servers.md: a stdio server from npm behind the demo's sign-in.
    title: 'a stdio server behind the demo (start -- <server-everything> stdio)',
    args: ['--', '--', process.execPath, EVERYTHING, 'stdio'],
    tools: ['echo', 'get-env', 'get-sum'],
    call: { tool: 'echo', argument: 'message', shows: (text) => new RegExp(`Echo: ${text}`) },
  },
];

for (const setup of SETUPS) describe(`MCP Inspector web UI against ${setup.title}, in headless Chromium`, function () {
  this.timeout(120_000);
  let home: string;
  let demo: RunningProcess;
  let inspector: RunningProcess;
  let browser: Browser;
  let port: number;
  let ui: string;

  before(async function () {
    this.timeout(300_000);
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    await buildOnce();
    home = await mkdtemp(join(tmpdir(), 'inspector-home-'));
    port = await freePortRun(3);
    demo = spawnProcess('npm', ['start', ...setup.args], { cwd: ROOT, env: { ...baseEnvironment(), PORT: String(port) }, detached: true });
    await demo.waitForOutput(/MCP Inspector/);
    const [uiPort, sandboxPort, appPort] = [await freePort(), await freePort(), await freePort()];
    ui = `http://localhost:${uiPort}`;
    // Inspector's own settings for a test run: loopback only, no browser of its own, its state
    // (server list, OAuth client) in a fresh home.
    inspector = spawnProcess('npx', ['@modelcontextprotocol/inspector'], {
      cwd: ROOT,
      detached: true,
      env: {
        ...baseEnvironment(),
        HOME: home,
        HOST: '127.0.0.1',
        CLIENT_PORT: String(uiPort),
        MCP_SANDBOX_PORT: String(sandboxPort),
        MCP_APP_ORIGIN_PORT: String(appPort),
        MCP_AUTO_OPEN_ENABLED: 'false',
        MCP_INSPECTOR_SECRET_STORE: 'memory',
        MCP_STORAGE_DIR: join(home, 'storage'),
      },
    });
    await inspector.waitForOutput(/MCP Inspector Web is up and running/);
    await waitForPort(uiPort, '127.0.0.1', 20_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  after(async () => {
    await browser?.close();
    if (inspector) await stopProcess(inspector);
    if (demo) await stopProcess(demo);
    if (home) await rm(home, { recursive: true, force: true });
  });

  async function shot(page: Page, name: string): Promise<void> {
    await mkdir('test/artifacts', { recursive: true });
    await writeFile(`test/artifacts/${name}.png`, await page.screenshot({ fullPage: true }));
  }

  it('connects, signs in through our pages, lists the tools and calls one', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // Inspector's page asks for web fonts on the internet, which this machine cannot reach.
    await page.route(/^https:\/\/fonts\.(googleapis|gstatic)\.com\//, (route) => route.abort());
    await page.goto(ui);

    // Add the server as the README says: Streamable HTTP, http://localhost:<PORT>/mcp.
    await page.getByRole('button', { name: 'Add Servers' }).click();
    await page.getByRole('menuitem', { name: '+ Add manually' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add server' });
    await dialog.getByRole('textbox', { name: 'Server ID' }).fill(SERVER_ID);
    await dialog.getByRole('textbox', { name: 'Transport' }).click();
    await page.getByRole('option', { name: 'streamable-http' }).click();
    await dialog.getByRole('textbox', { name: 'URL' }).fill(`http://localhost:${port}/mcp`);
    await dialog.getByRole('button', { name: 'Add' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // Connect: the proxy answers 401, Inspector registers and sends the browser to our page.
    await page.getByRole('switch', { name: `Connect or disconnect "${SERVER_ID}"` }).click({ force: true });
    await page.getByRole('heading', { name: 'Connect MCP Inspector?' }).waitFor();
    assert.equal(new URL(page.url()).origin, `http://localhost:${port}`);
    assert.match(await page.locator('body').innerText(), /Demo: this proxy runs on embedded defaults/);
    await shot(page, 'inspector-consent');
    await page.getByRole('button', { name: 'Continue' }).click();

    // The demo's identity provider: sign in with the account the demo printed.
    await page.locator('input[name="username"]').fill(DEMO_ACCOUNT.username);
    await page.locator('input[name="password"]').fill(DEMO_ACCOUNT.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Back in Inspector, connected, with the demo's tools.
    await page.waitForURL((url) => url.origin === ui);
    await page.locator('[data-testid="connection-status"][data-status="connected"]').waitFor({ timeout: 30_000 });
    await page.getByRole('banner').getByText('Tools', { exact: true }).click();
    const tools = page.getByTestId('tools-screen');
    await tools.waitFor();
    for (const name of setup.tools) await tools.getByRole('button', { name: new RegExp(`\\b${name}\\b`) }).waitFor();

    await tools.getByRole('button', { name: new RegExp(`\\b${setup.call.tool}\\b`) }).click();
    await page.getByRole('textbox', { name: setup.call.argument }).fill('hello through the proxy');
    await page.getByRole('button', { name: 'Execute Tool' }).click();
    await page.getByRole('heading', { name: 'Results' }).waitFor();
    assert.match(await page.getByRole('main').innerText(), setup.call.shows('hello through the proxy'));
    await shot(page, `inspector-tool-result${setup.args.length ? '-stdio' : ''}`);
    await page.close();
  });
});
