// docs/errors.md lists the texts engines grep and the files that make them. Each text the
// table says tsrun writes itself (all but the errno texts, which come from the kernel's
// error numbers) must still be in each file named for it: rewording one fails here first.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '../..');
const doc = fs.readFileSync(path.join(repo, 'docs/errors.md'), 'utf8');
const section = doc.split('## Texts engines grep')[1]?.split('\n## ')[0] ?? '';
const rows = section
  .split('\n')
  .filter((l) => l.startsWith('| `'))
  .map((l) => l.split(' | ').map((c) => c.replace(/^\| /, '').trim()));

t.ok(rows.length >= 8, `${rows.length} rows in docs/errors.md's table`);

for (const [textCell, kind, , producedBy] of rows) {
  if (kind === 'host') continue; // an errno's text, from bindings/c.ts and tsrun-stage
  const text = textCell.replace(/^`|`$/g, '');
  const files = [...producedBy.matchAll(/(?:src|bindings)\/[\w/.-]+\.(?:ts|c)/g)].map((m) => m[0]);
  t.test(text, async (t) => {
    t.ok(files.length > 0, 'the row names the files that make it');
    // "ID" stands for the container id: the parts around it are literal.
    const parts = text.split(/\bID\b/).map((p) => p.trim()).filter(Boolean);
    for (const file of files) {
      const source = fs.readFileSync(path.join(repo, file), 'utf8');
      for (const part of parts) t.ok(source.includes(part), `${file} writes ${JSON.stringify(part)}`);
    }
  });
}
