// What the client scripts share (node.mjs and flagd.mjs on Node, page.js in
// the browser): the SDK method each case type is evaluated with, and an
// evaluation's details in the form the Go tests (cmd/valueloop/clients_test.go,
// flagd_test.go) compare.

// detailsMethod is the client's method that evaluates a case of type.
export function detailsMethod(client, type) {
  const method = {
    boolean: client.getBooleanDetails,
    string: client.getStringDetails,
    number: client.getNumberDetails,
    object: client.getObjectDetails,
  }[type];
  if (!method) throw new Error(`unknown case type ${type}`);
  return method;
}

// plain is the details d of one evaluation with every field present.
export function plain(d) {
  return {
    value: d.value,
    variant: d.variant ?? '',
    reason: d.reason ?? '',
    errorCode: d.errorCode ?? '',
    errorMessage: d.errorMessage ?? '',
    flagMetadata: d.flagMetadata ?? {},
  };
}

// evaluate evaluates cases (name, flag, type, default, context) with a
// server SDK client and returns the details of each, keyed by case name.
export async function evaluate(client, cases) {
  const out = {};
  for (const c of cases) {
    out[c.name] = plain(await detailsMethod(client, c.type).call(client, c.flag, c.default, c.context));
  }
  return out;
}

// evaluateStdin evaluates the cases that come as JSON on stdin with a
// server SDK client and writes the details of each to stdout, as one JSON
// object keyed by case name.
export async function evaluateStdin(client) {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  process.stdout.write(JSON.stringify(await evaluate(client, JSON.parse(input))) + '\n');
}
