// Evaluates flags through @openfeature/server-sdk and flagd's own
// @openfeature/flagd-provider, unmodified, against Valueloop's flagd
// protocols at VALUELOOP_HOST:VALUELOOP_PORT, in FLAGD_MODE "rpc" or
// "in-process", with the token as the selector (flagd's providers have no
// token option). Cases on stdin, details on stdout, as node.mjs.
import { OpenFeature } from '@openfeature/server-sdk';
import { FlagdProvider } from '@openfeature/flagd-provider';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input);

await OpenFeature.setProviderAndWait(
  new FlagdProvider({
    host: process.env.VALUELOOP_HOST,
    port: Number(process.env.VALUELOOP_PORT),
    resolverType: process.env.FLAGD_MODE,
    selector: process.env.VALUELOOP_TOKEN,
    cache: 'disabled',
  }),
);
const client = OpenFeature.getClient('valueloop-flagd-suite');
const methods = {
  boolean: client.getBooleanDetails,
  string: client.getStringDetails,
  number: client.getNumberDetails,
  object: client.getObjectDetails,
};
const out = {};
for (const c of cases) {
  const d = await methods[c.type].call(client, c.flag, c.default, c.context);
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
process.exit(0); // grpc-js keeps the event loop alive otherwise
