// Evaluates flags through @openfeature/server-sdk and @openfeature/ofrep-provider,
// unmodified, against the Valueloop server at VALUELOOP_URL with the token
// VALUELOOP_TOKEN. The cases come as JSON on stdin (name, flag, type,
// default, context); the evaluation details of each go to stdout as one JSON
// object keyed by case name. The expectations live in the Go test
// (cmd/valueloop/clients_test.go), which runs this script.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { evaluateStdin } from './details.mjs';

const provider = new OFREPProvider({
  baseUrl: process.env.VALUELOOP_URL,
  headers: [['Authorization', `Bearer ${process.env.VALUELOOP_TOKEN}`]],
});
await OpenFeature.setProviderAndWait(provider);
await evaluateStdin(OpenFeature.getClient('valueloop-client-suite'));
await OpenFeature.close();
