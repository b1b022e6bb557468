package tracing_test

import (
	"context"
	"testing"

	"github.com/valueloop/valueloop/tracing"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		// want is Describe() of the result, or the error's text.
		want string
		on   bool
	}{
		{"nothing set", nil,
			"off: no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER=otlp", false},
		{"service name alone", map[string]string{"OTEL_SERVICE_NAME": "x"},
			"off: no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER=otlp", false},
		{"base endpoint gets the traces path", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			"on: OTEL_EXPORTER_OTLP_ENDPOINT is set; OTLP http/protobuf to http://collector:4318/v1/traces; service valueloop; sampler parentbased_always_on", true},
		{"signal endpoint as it is, and first", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/otlp/traces"},
			"on: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTLP http/protobuf to https://b/otlp/traces; service valueloop; sampler parentbased_always_on", true},
		{"grpc keeps the base endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			"on: OTEL_EXPORTER_OTLP_ENDPOINT is set; OTLP grpc to http://collector:4317; service valueloop; sampler parentbased_always_on", true},
		{"traces protocol over the general one", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
			"on: OTEL_EXPORTER_OTLP_ENDPOINT is set; OTLP http/json to http://c:4318/v1/traces; service valueloop; sampler parentbased_always_on", true},
		{"exporter otlp uses the default endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			"on: OTEL_TRACES_EXPORTER=otlp; OTLP http/protobuf to http://localhost:4318/v1/traces; service valueloop; sampler parentbased_always_on", true},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			"off: OTEL_TRACES_EXPORTER=none", false},
		{"sdk disabled wins", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			"off: OTEL_SDK_DISABLED=true", false},
		{"service, attributes and sampler", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://u:p@c:4318", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,team=flags",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			"on: OTEL_EXPORTER_OTLP_ENDPOINT is set; OTLP http/protobuf to http://c:4318/v1/traces; service from-attrs; sampler parentbased_traceidratio 0.25", true},
		{"service name over the attribute", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_RESOURCE_ATTRIBUTES": "service.name=a", "OTEL_SERVICE_NAME": "b"},
			"on: OTEL_TRACES_EXPORTER=otlp; OTLP http/protobuf to http://localhost:4318/v1/traces; service b; sampler parentbased_always_on", true},
		{"every bad value named", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
			"OTEL_TRACES_SAMPLER": "sometimes", "OTEL_RESOURCE_ATTRIBUTES": "novalue", "OTEL_SDK_DISABLED": "maybe"},
			`OTEL_TRACES_EXPORTER: "zipkin" is not supported: want otlp or none
OTEL_SDK_DISABLED: want true or false, not "maybe"
OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" is not supported: want http/protobuf, http/json or grpc
OTEL_EXPORTER_OTLP_ENDPOINT: want an http or https URL such as http://collector:4318, not "collector:4318"
OTEL_TRACES_SAMPLER: "sometimes" is not supported: want one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio
OTEL_RESOURCE_ATTRIBUTES: want key=value pairs separated by commas, not "novalue"`, false},
		{"bad ratio even when off", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
			"OTEL_TRACES_SAMPLER_ARG: want a ratio from 0 to 1, not \"2\"", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tracing.FromEnv(func(k string) string { return tc.env[k] })
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = c.Describe()
			}
			if got != tc.want || c.Enabled != tc.on {
				t.Errorf("got %q (on %v)\nwant %q (on %v)", got, c.Enabled, tc.want, tc.on)
			}
		})
	}
}

func TestOpenOff(t *testing.T) {
	tr, err := tracing.Open(context.Background(), tracing.Config{})
	if tr != nil || err != nil {
		t.Fatalf("Open of the zero config: %v, %v; want nil, nil", tr, err)
	}
	// The nil tracer's methods are safe and do nothing.
	ctx, span := tr.Start(context.Background(), "x", 0)
	if span.IsRecording() || ctx != context.Background() {
		t.Error("nil tracer made a span")
	}
	tracing.End(span, nil)
	if tr.Handler(nil, nil) != nil || tr.ConnectOptions() != nil || tr.Close(ctx) != nil {
		t.Error("nil tracer wrapped something")
	}
}
