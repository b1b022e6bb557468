// Evaluates flags through @openfeature/server-sdk and @openfeature/ofrep-provider,
// unmodified, against the Valueloop server at VALUELOOP_URL with the token
// VALUELOOP_TOKEN. The cases come as JSON on stdin (name, flag, type,
// default, context); the evaluation details of each go to stdout as one JSON
// object keyed by case name. The expectations live in the Go test
// (cmd/valueloop/clients_test.go), which runs this script.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input);

const provider = new OFREPProvider({
  baseUrl: process.env.VALUELOOP_URL,
  headers: [['Authorization', `Bearer ${process.env.VALUELOOP_TOKEN}`]],
});
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient('valueloop-client-suite');
const methods = {
  boolean: client.getBooleanDetails,
  string: client.getStringDetails,
  number: client.getNumberDetails,
  object: client.getObjectDetails,
};

const out = {};
for (const c of cases) {
  const method = methods[c.type];
  if (!method) throw new Error(`case ${c.name}: unknown type ${c.type}`);
  const d = await method.call(client, c.flag, c.default, c.context);
  out[c.name] = {
    value: d.value,
    variant: d.variant ?? '',
    reason: d.reason ?? '',
    errorCode: d.errorCode ?? '',
    errorMessage: d.errorMessage ?? '',
    flagMetadata: d.flagMetadata ?? {},
  };
}
process.stdout.write(JSON.stringify(out) + '\n');
await OpenFeature.close();
