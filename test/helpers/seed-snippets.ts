// The configuration operators paste from Heroku's documents (../shared/seeds/): every
// `heroku config:set NAME=value …` command, read as a shell reads it (single and double quotes,
// backslash line continuations), so tests configure the proxy with exactly those values.
// Continuations are read as their authors meant them: Heroku's proxy README has `\` followed by
// spaces at the end of one line, which a shell would take as an escaped space ending the command.

export interface ConfigSnippet {
  /** Line of the document where the command starts (1-based). */
  line: number;
  vars: Record<string, string>;
}

/** Shell words of one command (quotes removed, `$(…)` kept as written). */
function words(command: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      word += command.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; command[j] !== '"'; j++) {
        if (command[j] === '\\' && ['"', '\\', '$', '`'].includes(command[j + 1]!)) j++;
        word += command[j];
      }
      i = j;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) out.push(word);
  return out;
}

/** Every `heroku config:set` command of a document, in order. */
export function configSnippets(document: string): ConfigSnippet[] {
  const lines = document.split('\n');
  const snippets: ConfigSnippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*heroku config:set\b/.test(lines[i]!)) continue;
    const start = i;
    let command = lines[i]!;
    // A line ending in a backslash (spaces after it allowed) continues on the next.
    while (/\\\s*$/.test(command) && i + 1 < lines.length && !lines[i + 1]!.startsWith('```')) {
      command = `${command.replace(/\\\s*$/, ' ')}${lines[++i]}`;
    }
    command = command.replace(/\\\s*$/, '');
    const vars: Record<string, string> = {};
    for (const word of words(command).slice(2)) {
      const eq = word.indexOf('=');
      if (eq > 0 && /^[A-Z][A-Z0-9_]*$/.test(word.slice(0, eq))) vars[word.slice(0, eq)] = word.slice(eq + 1);
    }
    snippets.push({ line: start + 1, vars });
  }
  return snippets;
}

/** Every variable the document's snippets set, later ones winning, as an operator following it top to bottom ends up with. */
export function documentedConfig(document: string, keep: (name: string) => boolean = () => true): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const snippet of configSnippets(document)) for (const [name, value] of Object.entries(snippet.vars)) if (keep(name)) vars[name] = value;
  return vars;
}
