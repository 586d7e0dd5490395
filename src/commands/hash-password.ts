// `mcp-auth-proxy hash-password`: the argon2id hash of a password read from standard input, for
// IDENTITY_LOCAL_USERS. The password never appears on a command line (shell history, ps).
import { hashPassword, newTotpSecret } from '../identity/local-sign-in.js';
import { EXIT, UsageError, type Command } from './command.js';

/** Shorter passwords are refused: a local account is only as strong as its password. */
const MIN_LENGTH = 12;

export const command: Command = {
  help: `Usage: <cli> hash-password [--name NAME [--totp]] < password-file
       printf '%s' 'a long passphrase' | <cli> hash-password --name alice@example.com

Reads a password from standard input (one trailing newline is dropped) and prints its argon2id
hash, or with --name the whole IDENTITY_LOCAL_USERS entry (NAME:hash). Passwords shorter than
${MIN_LENGTH} characters are refused.

Options:
  --name NAME   Print NAME:hash, ready for IDENTITY_LOCAL_USERS.
  --totp        Also make a TOTP secret (a second factor): prints NAME:hash:SECRET, and on standard
                error the otpauth:// URI to add to an authenticator app.
  -h, --help    Show this help.

Examples:
  <cli> hash-password --name alice@example.com >> users.txt
  heroku config:set IDENTITY_LOCAL_USERS="$(<cli> hash-password --name alice@example.com)"
`,
  options: {
    name: { type: 'string' },
    totp: { type: 'boolean' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}": the password is read from standard input`);
    const name = values.name as string | undefined;
    if (name !== undefined && !/^[^\s:,#]{1,254}$/.test(name)) throw new UsageError('--name must be 1 to 254 characters without spaces, ":", "," or "#"');
    const password = (await io.readStdin()).replace(/\r?\n$/, '');
    if (password.length < MIN_LENGTH) {
      io.err(`the password must be at least ${MIN_LENGTH} characters long (read ${password.length} from standard input)`);
      return EXIT.failed;
    }
    if (values.totp && name === undefined) throw new UsageError('--totp goes with --name (the account it is for)');
    const hash = await hashPassword(password);
    if (values.totp && name !== undefined) {
      const issuer = URL.parse(io.env.BASE_URL ?? '')?.host || 'mcp-auth-proxy';
      const { secret, uri } = newTotpSecret(name, issuer);
      io.out(`${name}:${hash}:${secret}\n`);
      io.err(`Add this to the user's authenticator app (as a QR code or by hand):\n${uri}\n`);
      return EXIT.ok;
    }
    io.out(`${name === undefined ? hash : `${name}:${hash}`}\n`);
    return EXIT.ok;
  },
};
