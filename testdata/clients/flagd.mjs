// Evaluates flags through @openfeature/server-sdk and flagd's own
// @openfeature/flagd-provider, unmodified, against Valueloop's flagd
// protocols at VALUELOOP_HOST:VALUELOOP_PORT, in FLAGD_MODE "rpc" or
// "in-process", with the token as the selector (flagd's providers have no
// token option). Cases on stdin, details on stdout, as node.mjs.
import { OpenFeature } from '@openfeature/server-sdk';
import { FlagdProvider } from '@openfeature/flagd-provider';
import { evaluateStdin } from './details.mjs';

await OpenFeature.setProviderAndWait(
  new FlagdProvider({
    host: process.env.VALUELOOP_HOST,
    port: Number(process.env.VALUELOOP_PORT),
    resolverType: process.env.FLAGD_MODE,
    selector: process.env.VALUELOOP_TOKEN,
    cache: 'disabled',
  }),
);
await evaluateStdin(OpenFeature.getClient('valueloop-flagd-suite'));
await OpenFeature.close();
process.exit(0); // grpc-js keeps the event loop alive otherwise
