// The web page of the browser test, bundled by esbuild with
// @openfeature/web-sdk and @openfeature/ofrep-web-provider. It reads the
// server URL and token (sent as apiKey says) from its query string, evaluates every flag it is
// asked for and keeps the results on window.valueloop for browser.mjs to read:
// after READY, and again after every configuration change the provider
// reports (which it learns, as changeDetection says, by polling the bulk
// endpoint or from the change notification stream the bulk answer
// announces: OFREP's eventStreams).
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { detailsMethod, plain } from './details.mjs';

const q = new URLSearchParams(location.search);
const cases = JSON.parse(q.get('cases'));
const state = (window.valueloop = { status: 'starting', snapshots: [], errors: [] });

const client = OpenFeature.getClient();

function snapshot(why) {
  const values = {};
  for (const c of cases) {
    values[c.name] = plain(detailsMethod(client, c.type).call(client, c.flag, c.default));
  }
  state.snapshots.push({ why, providerStatus: client.providerStatus, values });
}

client.addHandler(ProviderEvents.ConfigurationChanged, () => snapshot('changed'));
client.addHandler(ProviderEvents.Error, (e) => state.errors.push(String(e?.message ?? e)));

try {
  await OpenFeature.setContext(JSON.parse(q.get('context')));
  await OpenFeature.setProviderAndWait(
    new OFREPWebProvider({
      baseUrl: q.get('server'),
      // OFREP's two schemes: a bearer token, or with apiKey the same token
      // as X-API-Key (the provider has no option of its own for either).
      headers: [q.get('apiKey') ? ['X-API-Key', q.get('token')] : ['Authorization', `Bearer ${q.get('token')}`]],
      pollInterval: Number(q.get('poll')),
      changeDetection: q.get('changeDetection'),
    }),
  );
  snapshot('ready');
  state.status = 'ready';
} catch (e) {
  state.errors.push(String(e?.message ?? e));
  state.status = 'failed';
}
