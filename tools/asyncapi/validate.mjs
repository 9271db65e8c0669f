// Validate AsyncAPI documents with the AsyncAPI project's own parser (make lint).
//   node tools/asyncapi/validate.mjs docs/asyncapi/*.json
// The parser checks the document against the AsyncAPI JSON Schema (bindings and security
// schemes included) and runs its Spectral rule set (references resolve, operation messages
// belong to their channel, ...). Warnings fail too: a partner's tools trip on them as well.
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const parser = new Parser();
const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}

let failed = 0;
for (const path of paths) {
  const { document, diagnostics } = await fromFile(parser, path).parse();
  const serious = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
  for (const d of serious) {
    const level = d.severity === DiagnosticSeverity.Error ? 'error' : 'warning';
    console.error(`${path}: ${level} ${d.code} at /${d.path.join('/')}: ${d.message}`);
  }
  if (document === undefined || serious.length > 0) {
    failed += 1;
    continue;
  }
  const version = document.version();
  const channels = document.channels().length;
  const operations = document.operations().length;
  const messages = document.messages().length;
  console.log(`${path}: valid AsyncAPI ${version}: ${channels} channels, `
    + `${operations} operations, ${messages} messages`);
}
process.exit(failed === 0 ? 0 : 1);
