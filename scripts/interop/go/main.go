// The search service of the demo shop, instrumented with the OpenTelemetry Go SDK, driven through
// a short fixed session for scripts/interop/capture.mjs: SERVER spans as an HTTP server
// instrumentation records them, an INTERNAL span for the search, and analytics events as log
// records with an event name inside the request's span, the last one (search.saved) with no
// Timestamp, as an app that gives no time emits it. Every span and record goes through two
// OTLP/HTTP protobuf exporters, one uncompressed and one gzip, and is exported in one forced
// flush. Ids come from a seeded generator and every time is given explicitly (the untimed
// record's ObservedTimestamp too), so each run sends the same data.
//
//	go build -o shop . && ./shop http://127.0.0.1:4318
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// seededIDs makes trace and span ids from SHA-256 of a seed and a counter: random-looking, the
// same on every run.
type seededIDs struct {
	mu sync.Mutex
	n  int
}

func (g *seededIDs) next() [32]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := sha256.Sum256([]byte(fmt.Sprintf("otelytics-go-shop:%d", g.n)))
	g.n++
	return h
}

func (g *seededIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	var t trace.TraceID
	h := g.next()
	copy(t[:], h[:16])
	return t, g.NewSpanID(context.Background(), t)
}

func (g *seededIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var s trace.SpanID
	h := g.next()
	copy(s[:], h[:8])
	return s
}

type visitor struct {
	ip, session, userAgent, user string
	consent                      *[2]bool // analytics, marketing
}

type shop struct {
	http, tracer trace.Tracer
	events       log.Logger
	// The session's clock: it moves only when the session says so.
	now time.Time
}

func (s *shop) advance(ms float64) time.Time {
	s.now = s.now.Add(time.Duration(ms * float64(time.Millisecond)))
	return s.now
}

func (v visitor) attributes() []attribute.KeyValue {
	a := []attribute.KeyValue{attribute.String("client.address", v.ip), attribute.String("session.id", v.session)}
	if v.user != "" {
		a = append(a, attribute.String("user.id", v.user), attribute.String("enduser.id", v.user))
	}
	if v.consent != nil {
		a = append(a, attribute.Bool("consent.analytics", v.consent[0]), attribute.Bool("consent.marketing", v.consent[1]))
	}
	return a
}

func (s *shop) server(v visitor, method, route, target string) (context.Context, trace.Span) {
	path, query, hasQuery := strings.Cut(target, "?")
	a := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.String("url.scheme", "http"),
		attribute.String("url.path", path),
		attribute.String("server.address", "search.shop.example.com"),
		attribute.Int("server.port", 8080),
		attribute.String("network.peer.address", v.ip),
		attribute.String("user_agent.original", v.userAgent),
		attribute.StringSlice("http.request.header.x-session-id", []string{v.session}),
	}
	if hasQuery {
		a = append(a, attribute.String("url.query", query))
	}
	a = append(a, v.attributes()...)
	return s.http.Start(context.Background(), method+" "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(s.advance(4)), trace.WithAttributes(a...))
}

func (s *shop) end(span trace.Span, status int, took float64) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	span.End(trace.WithTimestamp(s.advance(took)))
}

func (s *shop) event(ctx context.Context, name, body string, attrs ...attribute.KeyValue) {
	var r log.Record
	r.SetEventName(name)
	r.SetTimestamp(s.advance(0.5))
	r.SetObservedTimestamp(s.now)
	r.SetSeverity(log.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue(body))
	r.AddAttributes(attrs...)
	s.events.Emit(ctx, r)
}

// untimedEvent emits an event as an app does when it gives no time: no Timestamp on the record,
// only the ObservedTimestamp. The SDK would fill that from its clock, which is what it does when
// the caller sets nothing; it is set from the session's clock here so that each run sends the same
// data.
func (s *shop) untimedEvent(ctx context.Context, name, body string, attrs ...attribute.KeyValue) {
	var r log.Record
	r.SetEventName(name)
	r.SetObservedTimestamp(s.advance(0.5))
	r.SetSeverity(log.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue(body))
	r.AddAttributes(attrs...)
	s.events.Emit(ctx, r)
}

func logAttributes(v visitor) []attribute.KeyValue {
	a := []attribute.KeyValue{attribute.String("client.address", v.ip), attribute.String("session.id", v.session)}
	if v.user != "" {
		a = append(a, attribute.String("user.id", v.user))
	}
	if v.consent != nil {
		a = append(a, attribute.Bool("consent.analytics", v.consent[0]), attribute.Bool("consent.marketing", v.consent[1]))
	}
	return a
}

func (s *shop) session() {
	anonymous := visitor{ip: "192.0.2.10", session: "s-0c7d3355", userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0"}
	john := visitor{ip: "203.0.113.42", session: "s-41be88d0", userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1", user: "u-1002", consent: &[2]bool{false, true}}

	ctx, span := s.server(anonymous, "GET", "/search", "/search?q=sneaker+weiss")
	_, q := s.tracer.Start(ctx, "search.query", trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(s.advance(0.3)),
		trace.WithAttributes(attribute.String("search.query", "sneaker weiss"), attribute.Int("search.results", 6)))
	q.End(trace.WithTimestamp(s.advance(2.2)))
	s.event(ctx, "search.performed", "search.performed", append(logAttributes(anonymous), attribute.String("search.query", "sneaker weiss"), attribute.Int("search.results_count", 6))...)
	s.end(span, 200, 0.8)

	ctx, span = s.server(john, "GET", "/pdp/:slug", "/pdp/t-shirt-print-schwarz-trq22o064-q11.html")
	s.event(ctx, "product.viewed", "product.viewed", append(logAttributes(john), attribute.String("product.sku", "TRQ22O064-Q11"), attribute.Float64("product.price", 19.99), attribute.String("product.name", "T-Shirt Print schwarz"))...)
	s.end(span, 200, 3.6)

	ctx, span = s.server(john, "POST", "/signup", "/signup")
	s.event(ctx, "user.signed_up", "New signup john.smith@example.com from 203.0.113.42",
		append(logAttributes(john), attribute.String("user.email", "john.smith@example.com"), attribute.String("user.phone", "+1 415 555 0199"), attribute.String("signup.method", "email"),
			attribute.Map("profile", attribute.String("name", "John Smith"), attribute.String("contact", "john.smith@example.com, +1 415 555 0199")))...)
	s.end(span, 201, 5.1)

	ctx, span = s.server(anonymous, "GET", "/search", "/search?q=jane.doe%40example.com")
	s.event(ctx, "search.performed", "search.performed", append(logAttributes(anonymous), attribute.String("search.query", "jane.doe@example.com"), attribute.Int("search.results_count", 0))...)
	s.end(span, 200, 1.9)

	_, probe := s.http.Start(context.Background(), "GET /healthz", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(s.advance(3)),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/healthz"), attribute.String("url.path", "/healthz"), attribute.String("client.address", "10.42.0.1")))
	probe.SetStatus(codes.Unset, "")
	s.end(probe, 200, 0.3)

	ctx, span = s.server(john, "POST", "/search/saved", "/search/saved")
	s.untimedEvent(ctx, "search.saved", "search.saved", append(logAttributes(john), attribute.String("search.query", "t-shirt schwarz"), attribute.Bool("search.alerts", true))...)
	s.end(span, 201, 1.4)
}

func run(endpoint string) error {
	ctx := context.Background()
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", "shop-search"),
		attribute.String("service.version", "0.9.1"),
		attribute.String("service.namespace", "demo-shop"),
		attribute.String("service.instance.id", "shop-search-6f4b9d-q7m2z"),
		attribute.String("deployment.environment.name", "staging"),
	))
	if err != nil {
		return err
	}
	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithIDGenerator(&seededIDs{})}
	logOpts := []sdklog.LoggerProviderOption{sdklog.WithResource(res)}
	for _, gzip := range []bool{false, true} {
		tc, lc := otlptracehttp.NoCompression, otlploghttp.NoCompression
		if gzip {
			tc, lc = otlptracehttp.GzipCompression, otlploghttp.GzipCompression
		}
		te, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"), otlptracehttp.WithCompression(tc))
		if err != nil {
			return err
		}
		le, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(endpoint+"/v1/logs"), otlploghttp.WithCompression(lc))
		if err != nil {
			return err
		}
		// One export per forced flush: no timer fires during the run, and the session fits one batch.
		traceOpts = append(traceOpts, sdktrace.WithBatcher(te, sdktrace.WithBatchTimeout(10*time.Minute), sdktrace.WithMaxExportBatchSize(2048)))
		logOpts = append(logOpts, sdklog.WithProcessor(sdklog.NewBatchProcessor(le, sdklog.WithExportInterval(10*time.Minute), sdklog.WithExportMaxBatchSize(2048))))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)
	lp := sdklog.NewLoggerProvider(logOpts...)
	s := &shop{
		http:   tp.Tracer("shop-search.http", trace.WithInstrumentationVersion("0.9.1")),
		tracer: tp.Tracer("shop-search", trace.WithInstrumentationVersion("0.9.1")),
		events: lp.Logger("shop-search", log.WithInstrumentationVersion("0.9.1")),
		now:    time.Unix(0, 1_795_601_400_000_000_000), // 2026-11-25T10:10:00Z
	}
	s.session()
	if err := tp.ForceFlush(ctx); err != nil {
		return err
	}
	if err := lp.ForceFlush(ctx); err != nil {
		return err
	}
	if err := tp.Shutdown(ctx); err != nil {
		return err
	}
	return lp.Shutdown(ctx)
}

func main() {
	endpoint := "http://127.0.0.1:4318"
	if len(os.Args) > 1 {
		endpoint = strings.TrimSuffix(os.Args[1], "/")
	}
	if err := run(endpoint); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
