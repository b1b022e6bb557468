package tracing

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// Protocols of the OTLP exporter (OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	HTTPProtobuf = "http/protobuf"
	HTTPJSON     = "http/json"
	GRPC         = "grpc"
)

// Config is tracing as the standard OTEL_* environment variables set it.
// The zero Config is tracing off.
type Config struct {
	// Enabled: spans are made and exported.
	Enabled bool
	// Why says what turned tracing on or kept it off, naming the variable
	// (for --print-config and the start-up log).
	Why string
	// Endpoint is the URL spans are sent to: for HTTP the full URL of the
	// traces path (…/v1/traces), for gRPC the collector's http(s)://host:port.
	Endpoint string
	// Protocol is HTTPProtobuf, HTTPJSON or GRPC.
	Protocol string
	// ServiceName is the resource's service.name (default "valueloop").
	ServiceName string
	// Attributes are the other resource attributes
	// (OTEL_RESOURCE_ATTRIBUTES).
	Attributes []attribute.KeyValue
	// Sampler is the name of OTEL_TRACES_SAMPLER (default
	// parentbased_always_on), SamplerArg its ratio for the traceidratio
	// samplers (default 1).
	Sampler    string
	SamplerArg float64
}

// defaultEndpoint is the OTLP endpoint of protocol used when
// OTEL_TRACES_EXPORTER=otlp is set without an endpoint, as the
// specification defines it.
func defaultEndpoint(protocol string) string {
	if protocol == GRPC {
		return "http://localhost:4317"
	}
	return "http://localhost:4318/v1/traces"
}

var samplers = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

// FromEnv reads the configuration from the OTEL_* variables of getenv.
// Tracing is off unless an OTLP endpoint is set
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT) or
// OTEL_TRACES_EXPORTER is "otlp"; OTEL_TRACES_EXPORTER=none and
// OTEL_SDK_DISABLED=true keep it off whatever else is set. An invalid
// value is an error naming its variable (errors.Join of one per variable),
// also when tracing stays off, so that a typo does not pass unnoticed.
func FromEnv(getenv func(string) string) (Config, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	c := Config{ServiceName: "valueloop", Sampler: "parentbased_always_on", SamplerArg: 1}

	exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	switch exporter {
	case "", "otlp", "none":
	default:
		bad("OTEL_TRACES_EXPORTER: %q is not supported: want otlp or none", exporter)
	}
	disabled := false
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("OTEL_SDK_DISABLED: want true or false, not %q", v)
		}
		disabled = b
	}

	c.Protocol = HTTPProtobuf
	protoVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	p := getenv(protoVar)
	if p == "" {
		protoVar, p = "OTEL_EXPORTER_OTLP_PROTOCOL", getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch p {
	case "":
	case HTTPProtobuf, HTTPJSON, GRPC:
		c.Protocol = p
	default:
		bad("%s: %q is not supported: want http/protobuf, http/json or grpc", protoVar, p)
	}

	// A signal's endpoint is used as it is; the general one is a base URL
	// to which HTTP exporters append v1/traces (gRPC takes it as it is).
	from := ""
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		from, c.Endpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v
	} else if v := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		from, c.Endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT", v
		if c.Protocol != GRPC {
			c.Endpoint = strings.TrimSuffix(v, "/") + "/v1/traces"
		}
	}
	if from != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s: want an http or https URL such as http://collector:4318, not %q", from, getenv(from))
		}
	}

	if v := getenv("OTEL_TRACES_SAMPLER"); v != "" {
		if !contains(samplers, v) {
			bad("OTEL_TRACES_SAMPLER: %q is not supported: want one of %s", v, strings.Join(samplers, ", "))
		}
		c.Sampler = v
	}
	if v := getenv("OTEL_TRACES_SAMPLER_ARG"); v != "" && strings.HasSuffix(c.Sampler, "traceidratio") {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			bad("OTEL_TRACES_SAMPLER_ARG: want a ratio from 0 to 1, not %q", v)
		}
		c.SamplerArg = f
	}

	attrs, err := parseAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		bad("OTEL_RESOURCE_ATTRIBUTES: %v", err)
	}
	for _, kv := range attrs {
		if kv.Key == "service.name" {
			c.ServiceName = kv.Value.AsString()
			continue
		}
		c.Attributes = append(c.Attributes, kv)
	}
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		c.ServiceName = v
	}

	if len(problems) > 0 {
		return Config{}, errors.Join(problems...)
	}
	switch {
	case disabled:
		c.Why = "off: OTEL_SDK_DISABLED=true"
	case exporter == "none":
		c.Why = "off: OTEL_TRACES_EXPORTER=none"
	case from != "":
		c.Enabled, c.Why = true, "on: "+from+" is set"
	case exporter == "otlp":
		c.Enabled, c.Why = true, "on: OTEL_TRACES_EXPORTER=otlp"
		c.Endpoint = defaultEndpoint(c.Protocol)
	default:
		c.Why = "off: no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER=otlp"
	}
	if !c.Enabled {
		c.Endpoint = ""
	}
	return c, nil
}

// parseAttributes reads OTEL_RESOURCE_ATTRIBUTES: key=value pairs
// separated by commas, values percent-encoded.
func parseAttributes(s string) ([]attribute.KeyValue, error) {
	var out []attribute.KeyValue
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("want key=value pairs separated by commas, not %q", pair)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %s: %v", k, err)
		}
		out = append(out, attribute.String(k, dv))
	}
	return out, nil
}

// Describe is one line for --print-config: on or off, why, and where
// spans go.
func (c Config) Describe() string {
	if !c.Enabled {
		return c.Why
	}
	sampler := c.Sampler
	if strings.HasSuffix(sampler, "traceidratio") {
		sampler += " " + strconv.FormatFloat(c.SamplerArg, 'g', -1, 64)
	}
	endpoint := c.Endpoint
	if u, err := url.Parse(endpoint); err == nil && u.User != nil {
		u.User = nil // a password is no business of a printout
		endpoint = u.String()
	}
	return fmt.Sprintf("%s; OTLP %s to %s; service %s; sampler %s", c.Why, c.Protocol, endpoint, c.ServiceName, sampler)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
