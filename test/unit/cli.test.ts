// The command-line dispatcher and argument parsing: help for the tool and every command, and
// usage errors with exit status 2 that name what is wrong, before any command does anything.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMMANDS } from '../../src/commands/index.js';
import { parseCommandLine, positiveIntegerOption, UsageError } from '../../src/commands/command.js';
import { cli } from '../helpers/command-io.js';
import { invocationOf } from '../../src/cli.js';

const COMMAND_NAMES = ['start', 'verify', 'config', 'jwks', 'hash-password', 'grants', 'revoke', 'policy', 'vault-reencrypt'];

describe('command line', () => {
  describe('help', () => {
    it('lists every command with --help, -h and help', async () => {
      for (const argv of [['--help'], ['-h'], ['help']]) {
        const { code, stdout, stderr } = await cli(argv);
        assert.equal(code, 0, argv.join(' '));
        assert.equal(stderr, '');
        assert.match(stdout, /^Usage: node bin\/mcp-auth-proxy\.js \[command\]/);
        assert.doesNotMatch(stdout, /<cli>/);
        for (const name of COMMAND_NAMES) assert.match(stdout, new RegExp(`^  ${name} +\\S`, 'm'), name);
        assert.match(stdout, /Exit status: 0 done; 1 failed .*\n2 wrong command line; 3 nothing matched/);
      }
      assert.deepEqual(Object.keys(COMMANDS), COMMAND_NAMES);
    });

    it("prints each command's own help with --help, -h and help <command>, without running it", async () => {
      for (const name of COMMAND_NAMES) {
        const help = (await COMMANDS[name]!.load()).help;
        assert.match(help, new RegExp(`^Usage: <cli> ${name === 'start' ? '\\[start\\]' : name}`), name);
        for (const argv of [[name, '--help'], [name, '-h'], ['help', name]]) {
          // No configuration at all: a command that ran would fail, not print its help.
          assert.deepEqual(await cli(argv), { code: 0, stdout: help.replaceAll('<cli>', 'node bin/mcp-auth-proxy.js'), stderr: '' }, argv.join(' '));
        }
      }
      assert.equal((await cli(['grants', 'alice', '--json', '--help'])).code, 0, '--help wins anywhere on the line');
    });

    it('prints the version', async () => {
      const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
      assert.deepEqual(await cli(['--version']), { code: 0, stdout: `${version}\n`, stderr: '' });
    });
  });

  describe('usage errors: exit status 2, a message on stderr, nothing on stdout', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"; commands: start, verify, config/],
      [['help', 'frobnicate'], /unknown command "frobnicate"/],
      [['--bogus'], /^mcp-auth-proxy start: Unknown option '--bogus'/],
      [['start', 'now'], /^mcp-auth-proxy start: unexpected argument "now" \(a stdio MCP server's command goes after --\)/],
      [['start', '--'], /^mcp-auth-proxy start: expected a command after --/],
      [['config', '--', 'npx'], /^mcp-auth-proxy config: unexpected argument "npx"/],
      [['start', 'now', '--', 'npx'], /^mcp-auth-proxy start: unexpected argument "now"/],
      [['verify', '--port', '1'], /^mcp-auth-proxy verify: Unknown option '--port'/],
      [['config', 'extra'], /^mcp-auth-proxy config: unexpected argument "extra"/],
      [['jwks', '--type'], /^mcp-auth-proxy jwks: Option '--type <value>' argument missing/],
      [['jwks', '--type', 'rsa'], /^mcp-auth-proxy jwks: --type must be one of p-256, ed25519, got "rsa"/],
      [['jwks', '--keep', '2'], /--keep goes with --rotate/],
      [['jwks', '--from', '-'], /--from goes with --rotate/],
      [['jwks', '--rotate', '--keep', '0'], /--keep must be a positive whole number, got "0"/],
      [['jwks', '--rotate', '--keep', 'all'], /--keep must be a positive whole number, got "all"/],
      [['jwks', 'now'], /unexpected argument "now"/],
      [['grants'], /^mcp-auth-proxy grants: which user\? give an account id or an email/],
      [['grants', 'alice', 'bob'], /one user at a time, got 2/],
      [['grants', '--email', 'alice'], /Unknown option '--email'/],
      [['revoke'], /which grants\? give grant ids, or --user <user>/],
      [['revoke', 'g1', '--user', 'alice'], /give grant ids or --user, not both/],
      [['revoke', '--client', 'c1', 'g1'], /--client goes with --user/],
      [['revoke', '--user'], /Option '--user <value>' argument missing/],
      [['revoke', '--user', ''], /--user needs an account id or an email/],
      [['vault-reencrypt', 'now'], /^mcp-auth-proxy vault-reencrypt: unexpected argument "now"/],
    ];
    for (const [argv, message] of cases) {
      it(argv.join(' '), async () => {
        const { code, stdout, stderr } = await cli(argv);
        assert.equal(code, 2, stderr);
        assert.equal(stdout, '');
        assert.match(stderr, message);
      });
    }

    it("shows the command's usage lines and where to read more", async () => {
      const { stderr } = await cli(['jwks', '--bogus']);
      assert.equal(
        stderr,
        "mcp-auth-proxy jwks: Unknown option '--bogus'\n" +
          'Usage: node bin/mcp-auth-proxy.js jwks [--type p-256|ed25519]\n' +
          '       node bin/mcp-auth-proxy.js jwks --rotate [--from FILE|-] [--type p-256|ed25519] [--keep N]\n' +
          'Run `node bin/mcp-auth-proxy.js jwks --help` for more.\n',
      );
    });

    it('names commands as they were run: the buildpack layout, this repository, npx', () => {
      assert.equal(invocationOf('/app/mcp-auth-proxy/index.js', '/app'), 'node mcp-auth-proxy/index.js');
      assert.equal(invocationOf('/work/proxy/bin/mcp-auth-proxy.js', '/work/proxy'), 'node bin/mcp-auth-proxy.js');
      assert.equal(invocationOf('/opt/proxy/bin/mcp-auth-proxy.js', '/tmp'), 'node /opt/proxy/bin/mcp-auth-proxy.js');
      assert.equal(invocationOf('/work/proxy/node_modules/.bin/mcp-auth-proxy', '/work/proxy'), 'npx mcp-auth-proxy');
      assert.equal(invocationOf(undefined, '/'), 'node bin/mcp-auth-proxy.js');
    });
  });

  describe('parseCommandLine', () => {
    const options = { json: { type: 'boolean' }, user: { type: 'string' } } as const;

    it('reads flags, option values in both spellings, and positionals', () => {
      assert.deepEqual(parseCommandLine(['a', '--json', '--user', 'u1', 'b'], options), {
        values: { json: true, user: 'u1' },
        positionals: ['a', 'b'],
      });
      assert.deepEqual(parseCommandLine(['--user=alice@example.com'], options).values, { user: 'alice@example.com' });
      assert.deepEqual(parseCommandLine(['--', '--json'], options).positionals, ['--json'], '-- ends the options');
      assert.deepEqual(parseCommandLine(['a', '--', 'npx', '-y', 'server'], options).rest, ['npx', '-y', 'server'], 'what follows -- is kept apart');
    });

    it('turns every parse failure into a UsageError', () => {
      for (const argv of [['--nope'], ['--user'], ['--json=yes'], ['-x']]) {
        assert.throws(() => parseCommandLine(argv, options), UsageError, argv.join(' '));
      }
    });

    it('positiveIntegerOption', () => {
      assert.equal(positiveIntegerOption('keep', undefined), undefined);
      assert.equal(positiveIntegerOption('keep', '12'), 12);
      for (const bad of ['0', '-1', '1.5', '01', 'x', '', true]) {
        assert.throws(() => positiveIntegerOption('keep', bad), UsageError, String(bad));
      }
    });
  });
});
