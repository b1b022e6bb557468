// Evaluates flags through @openfeature/server-sdk and flagd's own
// @openfeature/flagd-provider, unmodified, against Valueloop's flagd
// protocols at VALUELOOP_HOST:VALUELOOP_PORT, in FLAGD_MODE "rpc" or
// "in-process", with the token as the selector (flagd's providers have no
// token option). Cases on stdin, details on stdout, as node.mjs.
//
// With FLAGD_WATCH set, the cases come as one JSON line on stdin and the
// script says, one JSON object a line, {"event":"ready","values":…} once the
// provider is ready, then {"event":"changed","flagsChanged":[…],"values":…}
// on every PROVIDER_CONFIGURATION_CHANGED, evaluating the cases again each
// time, until stdin closes.
import { createInterface } from 'node:readline';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { FlagdProvider } from '@openfeature/flagd-provider';
import { evaluate, evaluateStdin } from './details.mjs';

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
if (process.env.FLAGD_WATCH) {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const cases = JSON.parse((await lines.next()).value);
  const say = async (event, extra) =>
    process.stdout.write(JSON.stringify({ event, ...extra, values: await evaluate(client, cases) }) + '\n');
  client.addHandler(ProviderEvents.ConfigurationChanged, (details) =>
    say('changed', { flagsChanged: details?.flagsChanged ?? [] }),
  );
  await say('ready', {});
  while (!(await lines.next()).done);
} else {
  await evaluateStdin(client);
}
await OpenFeature.close();
process.exit(0); // grpc-js keeps the event loop alive otherwise
